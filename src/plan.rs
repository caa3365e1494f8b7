//! Changes and plans, shared by every service: what `plan` prints, what
//! `apply` does, and what drift reports are made of.

use std::fmt;

use crate::error::Error;

/// The AWS services, in the order a plan lists their changes (a pass
/// visits them in dependency order: see `reconcile.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Acm,
    /// CloudWatch Logs: the access log groups of the stages.
    Logs,
    ApiGateway,
    Route53,
    /// CloudWatch: the health alarms.
    CloudWatch,
    CloudFront,
    Rds,
    /// DynamoDB global tables.
    DynamoDb,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Acm => "acm",
            Service::Logs => "logs",
            Service::ApiGateway => "apigateway",
            Service::Route53 => "route53",
            Service::CloudFront => "cloudfront",
            Service::Rds => "rds",
            Service::CloudWatch => "cloudwatch",
            Service::DynamoDb => "dynamodb",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a change does to its resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        })
    }
}

/// One field that differs between AWS and the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub observed: Option<String>,
    pub desired: Option<String>,
}

impl FieldChange {
    pub fn new(
        field: impl Into<String>,
        observed: Option<String>,
        desired: Option<String>,
    ) -> Self {
        Self {
            field: field.into(),
            observed,
            desired,
        }
    }
}

/// The fields of one resource that differ between what was observed and
/// what is desired, in the order they were compared.
#[derive(Debug, Default)]
pub(crate) struct FieldDiff(Vec<FieldChange>);

impl FieldDiff {
    /// Notes `field` when its two values differ.
    pub fn compare(&mut self, field: &str, observed: Option<String>, desired: Option<String>) {
        if observed != desired {
            self.0.push(FieldChange::new(field, observed, desired));
        }
    }

    pub(crate) fn into_fields(self) -> Vec<FieldChange> {
        self.0
    }
}

/// The fields among `(field, observed, desired)` whose values differ.
pub(crate) fn differing_fields<const N: usize>(
    pairs: [(&str, Option<String>, Option<String>); N],
) -> Vec<FieldChange> {
    let mut diff = FieldDiff::default();
    for (field, observed, desired) in pairs {
        diff.compare(field, observed, desired);
    }
    diff.into_fields()
}

/// One change to one AWS resource, described for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub service: Service,
    /// The region of the resource; `None` for global services (Route 53, CloudFront).
    pub region: Option<String>,
    pub action: Action,
    /// The kind of resource, e.g. `record`, `health check`, `stage`.
    pub kind: &'static str,
    /// The resource, e.g. `origin.api.example.com A us-east-1`.
    pub resource: String,
    /// For updates: the fields that differ.
    pub fields: Vec<FieldChange>,
}

impl Change {
    pub fn new(
        service: Service,
        region: Option<&str>,
        action: Action,
        kind: &'static str,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            service,
            region: region.map(str::to_owned),
            action,
            kind,
            resource: resource.into(),
            fields: Vec::new(),
        }
    }

    pub(crate) fn with_fields(mut self, fields: Vec<FieldChange>) -> Self {
        self.fields = fields;
        self
    }
}

fn show(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("(none)")
}

impl fmt::Display for Change {
    /// `update route53 record origin.api.example.com A us-east-1: AliasTarget d-abc → d-def`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.action, self.service, self.kind, self.resource
        )?;
        for (i, field) in self.fields.iter().enumerate() {
            let sep = if i == 0 { ": " } else { ", " };
            write!(
                f,
                "{sep}{} {} → {}",
                field.field,
                show(&field.observed),
                show(&field.desired)
            )?;
        }
        Ok(())
    }
}

/// A service in a region (`None`: global), the unit a plan is printed by.
pub type Scope = (Service, Option<String>);

/// Every change a reconcile would make, in the order it would make them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn extend(&mut self, changes: impl IntoIterator<Item = Change>) {
        self.changes.extend(changes);
    }

    /// The changes grouped by service and region, for printing.
    pub(crate) fn grouped(&self) -> Vec<(Scope, Vec<&Change>)> {
        let mut groups: Vec<(Scope, Vec<&Change>)> = Vec::new();
        for change in &self.changes {
            let key = (change.service, change.region.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(change),
                None => groups.push((key, vec![change])),
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no changes");
        }
        for ((service, region), changes) in self.grouped() {
            writeln!(f, "{service} ({}):", region.as_deref().unwrap_or("global"))?;
            for change in changes {
                writeln!(f, "  {change}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_prints_as_one_line() {
        let change = Change::new(
            Service::Route53,
            None,
            Action::Update,
            "record",
            "origin.api.example.com A us-east-1",
        )
        .with_fields(vec![FieldChange::new(
            "AliasTarget.DNSName",
            Some("d-abc".into()),
            Some("d-def".into()),
        )]);
        assert_eq!(
            change.to_string(),
            "update route53 record origin.api.example.com A us-east-1: AliasTarget.DNSName d-abc → d-def"
        );
    }

    #[test]
    fn plan_groups_by_service_then_region() {
        let mut plan = Plan::default();
        plan.extend([
            Change::new(Service::Route53, None, Action::Create, "record", "b"),
            Change::new(
                Service::ApiGateway,
                Some("eu-west-1"),
                Action::Create,
                "rest api",
                "x",
            ),
            Change::new(
                Service::ApiGateway,
                Some("us-east-1"),
                Action::Create,
                "rest api",
                "y",
            ),
            Change::new(Service::Route53, None, Action::Delete, "record", "c"),
        ]);
        let text = plan.to_string();
        assert_eq!(
            text,
            "apigateway (eu-west-1):\n  create apigateway rest api x\napigateway (us-east-1):\n  create apigateway rest api y\nroute53 (global):\n  create route53 record b\n  delete route53 record c\n"
        );
        assert_eq!(Plan::default().to_string(), "no changes\n");
    }

    #[test]
    fn a_failure_keeps_its_region_and_the_category_of_its_error() {
        let error = Error::Aws {
            service: "acm",
            operation: "ListCertificates",
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        };
        let failed = Finding::failed("eu-west-1", &error);
        assert_eq!(
            failed.text,
            "eu-west-1: acm ListCertificates: ThrottlingException: Rate exceeded"
        );
        assert!(failed.concerns("eu-west-1") && !failed.concerns("us-east-1"));
        assert_eq!(failed.cause, Some("AwsError"));
        assert_eq!(failed.code.as_deref(), Some("ThrottlingException"));
        assert!(!failed.is_deferred());

        // A region named in the words is not a region concerned.
        let edge =
            Finding::global("the us-east-1 certificate for api.example.com is not issued yet");
        assert!(!edge.concerns("us-east-1"));
        let moving = Finding::in_regions(&["us-east-1", "eu-west-1"], "writer moving");
        assert!(moving.concerns("us-east-1") && moving.concerns("eu-west-1"));
    }
}

/// Whether a step only computes its changes or also makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Observe and diff; change nothing.
    Plan,
    /// Observe, diff and apply.
    Apply,
}

/// Something a step found besides its changes: a resource someone else
/// owns, work on its way, or a failure of one part. Kept as data so that
/// status and the controller read its regions and cause, not its words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The regions it concerns: one for most, two for a database writer
    /// moving between regions, none for global resources.
    pub regions: Vec<String>,
    /// For a failure that came from an error: [`Error::category`].
    pub cause: Option<&'static str>,
    /// For a failure AWS answered: its error code.
    pub code: Option<String>,
    /// One sentence for people, as `plan` prints it and status shows it.
    pub text: String,
}

impl Finding {
    /// A finding about a global resource, or about none in particular.
    pub fn global(text: impl Into<String>) -> Self {
        Self::in_regions(&[], text)
    }

    /// A finding about `region`.
    pub fn in_region(region: &str, text: impl Into<String>) -> Self {
        Self::in_regions(&[region], text)
    }

    /// A finding about each of `regions`.
    pub fn in_regions(regions: &[&str], text: impl Into<String>) -> Self {
        Self {
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            cause: None,
            code: None,
            text: text.into(),
        }
    }

    /// `region` failed with `error`: `<region>: <error>`.
    pub fn failed(region: &str, error: &Error) -> Self {
        Self::in_region(region, format!("{region}: {error}")).caused_by(error)
    }

    /// The step failed as a whole with `error`.
    pub fn failed_whole(error: &Error) -> Self {
        Self::global(error.to_string()).caused_by(error)
    }

    /// The same finding, caused by `error`.
    pub fn caused_by(mut self, error: &Error) -> Self {
        self.cause = Some(error.category());
        self.code = error.aws_code().map(str::to_owned);
        self
    }

    /// Whether it concerns `region`.
    pub fn concerns(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }

    /// What each of `findings` says.
    pub fn texts(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(|f| f.text.clone()).collect()
    }

    /// A call the account's budget deferred to its turn.
    pub fn is_deferred(&self) -> bool {
        self.cause == Some(Error::DEFERRED)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What one service step found and did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutcome<O> {
    /// The changes made (Apply) or that would be made (Plan).
    pub changes: Vec<Change>,
    /// Resources the spec needs that belong to someone else; left untouched.
    pub conflicts: Vec<Finding>,
    /// What is still on its way (certificate validation, a deployment);
    /// the reconcile requeues sooner while any remain.
    pub pending: Vec<Finding>,
    /// Failures of single regions or resources, with AWS's code and
    /// message; the other regions went on.
    pub errors: Vec<Finding>,
    /// What later services need from this one.
    pub outputs: O,
}

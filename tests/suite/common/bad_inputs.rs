//! The bad inputs every validation must refuse: the API server's (CEL
//! rules and OpenAPI bounds) and the command line's, which share the schema.

use serde_json::{Value, json};

/// A valid latency GlobalApi with edge and database; each bad case breaks one thing.
pub fn valid() -> Value {
    json!({
        "apiVersion": "globalapi.io/v1alpha1",
        "kind": "GlobalApi",
        "metadata": {"name": "base"},
        "spec": {
            "domain": "api.example.com",
            "hostedZone": {"name": "example.com"},
            "routing": {"policy": "Latency"},
            "regions": [
                {"name": "us-east-1", "backend": {"lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:api"}},
                {"name": "eu-west-1", "backend": {"httpUrl": "https://eu.internal.example.com"}}
            ],
            "api": {"stageName": "v1", "healthCheck": {"path": "/health", "intervalSeconds": 30, "failureThreshold": 3}},
            "edge": {"enabled": true},
            "database": {"aurora": {
                "globalClusterIdentifier": "exchange", "engine": "aurora-postgresql", "engineVersion": "16.4",
                "primaryRegion": "us-east-1", "instanceClass": "db.r6g.large"
            }},
            "resyncSeconds": 300
        }
    })
}

pub fn failover() -> Value {
    let mut v = valid();
    v["spec"]["routing"] = json!({"policy": "Failover", "primaryRegion": "us-east-1"});
    v
}

fn regions(n: usize) -> Value {
    const CODES: [&str; 17] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "sa-east-1",
        "ca-central-1",
        "me-south-1",
    ];
    Value::Array(
        CODES[..n]
            .iter()
            .map(|r| json!({"name": r, "backend": {"httpUrl": "https://b.example.com"}}))
            .collect(),
    )
}

/// One bad input: how to break the valid manifest, and what the refusal must say.
pub struct Bad {
    pub what: &'static str,
    pub manifest: Value,
    /// The field path the API server's message must name.
    pub field: &'static str,
    /// A fragment of the explanation.
    pub says: &'static str,
}

/// Sets the field at `pointer`, adding it to its parent object when absent.
fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match base
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in manifest"))
    {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        other => panic!("{parent} is {other}, not an object or array"),
    }
    base
}

fn without(mut base: Value, parent: &str, key: &str) -> Value {
    base.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no {parent} in manifest"))
        .remove(key);
    base
}

pub fn bad_inputs() -> Vec<Bad> {
    let long_label = format!("{}.example.com", "a".repeat(64));
    let long_name = format!("{}example.com", "abcdefghi.".repeat(25));
    let mut dup = valid();
    dup["spec"]["regions"][1]["name"] = json!("us-east-1");
    dup["spec"]["regions"][1]["backend"] = json!({"httpUrl": "https://x.example.com"});
    let mut all_maintenance = valid();
    all_maintenance["spec"]["regions"][0]["maintenance"] = json!(true);
    all_maintenance["spec"]["regions"][1]["maintenance"] = json!(true);
    let mut three_failover = failover();
    three_failover["spec"]["regions"] = regions(3);
    three_failover["spec"]["database"]["aurora"]["primaryRegion"] = json!("us-east-1");
    let mut edge_cert_elsewhere = valid();
    edge_cert_elsewhere["spec"]["certificate"] =
        json!({"arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234"});

    vec![
        Bad {
            what: "upper-case domain",
            manifest: with(valid(), "/spec/domain", json!("Api.example.com")),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "trailing dot",
            manifest: with(valid(), "/spec/domain", json!("api.example.com.")),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "wildcard",
            manifest: with(valid(), "/spec/domain", json!("*.example.com")),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "label over 63",
            manifest: with(valid(), "/spec/domain", json!(long_label)),
            field: "spec.domain",
            says: "lower-case DNS name",
        },
        Bad {
            what: "name over 253",
            manifest: with(valid(), "/spec/domain", json!(long_name)),
            field: "spec.domain",
            says: "253",
        },
        Bad {
            what: "domain outside the zone",
            manifest: with(valid(), "/spec/domain", json!("api.example.org")),
            field: "spec.domain",
            says: "inside it",
        },
        Bad {
            what: "zone with id and name",
            manifest: with(
                valid(),
                "/spec/hostedZone",
                json!({"id": "Z123", "name": "example.com"}),
            ),
            field: "spec.hostedZone",
            says: "exactly one of id or name",
        },
        Bad {
            what: "zone with neither",
            manifest: with(valid(), "/spec/hostedZone", json!({})),
            field: "spec.hostedZone",
            says: "exactly one of id or name",
        },
        Bad {
            what: "no regions",
            manifest: with(valid(), "/spec/regions", json!([])),
            field: "spec.regions",
            says: "at least 1",
        },
        Bad {
            what: "17 regions",
            manifest: with(valid(), "/spec/regions", regions(17)),
            field: "spec.regions",
            says: "at most 16",
        },
        Bad {
            what: "same region twice",
            manifest: dup,
            field: "spec.regions[1]",
            says: "Duplicate value",
        },
        Bad {
            what: "bad region code",
            manifest: with(valid(), "/spec/regions/1/name", json!("europe-1")),
            field: "spec.regions[1].name",
            says: "AWS region code",
        },
        Bad {
            what: "Failover without primaryRegion",
            manifest: without(failover(), "/spec/routing", "primaryRegion"),
            field: "spec.routing.primaryRegion",
            says: "required when routing.policy is Failover",
        },
        Bad {
            what: "primaryRegion not a region",
            manifest: with(
                failover(),
                "/spec/routing/primaryRegion",
                json!("us-west-2"),
            ),
            field: "spec.routing.primaryRegion",
            says: "one of spec.regions",
        },
        Bad {
            what: "Failover with 3 regions",
            manifest: three_failover,
            field: "spec.regions",
            says: "exactly 2 regions",
        },
        Bad {
            what: "primaryRegion with Latency",
            manifest: with(valid(), "/spec/routing/primaryRegion", json!("us-east-1")),
            field: "spec.routing.primaryRegion",
            says: "only used with Failover",
        },
        Bad {
            what: "backend with both",
            manifest: with(
                valid(),
                "/spec/regions/1/backend/lambdaArn",
                json!("arn:aws:lambda:eu-west-1:123456789012:function:api"),
            ),
            field: "spec.regions[1].backend",
            says: "exactly one of lambdaArn or httpUrl",
        },
        Bad {
            what: "backend with neither",
            manifest: with(valid(), "/spec/regions/1/backend", json!({})),
            field: "spec.regions[1].backend",
            says: "exactly one of lambdaArn or httpUrl",
        },
        Bad {
            what: "lambdaArn not a function ARN",
            manifest: with(
                valid(),
                "/spec/regions/0/backend/lambdaArn",
                json!("arn:aws:s3:::bucket"),
            ),
            field: "spec.regions[0].backend.lambdaArn",
            says: "Lambda function ARN",
        },
        Bad {
            what: "lambdaArn in another region",
            manifest: with(
                valid(),
                "/spec/regions/0/backend/lambdaArn",
                json!("arn:aws:lambda:eu-west-1:123456789012:function:api"),
            ),
            field: "spec.regions[0].backend.lambdaArn",
            says: "this entry's region",
        },
        Bad {
            what: "regional certificateArn not an ACM ARN",
            manifest: with(
                valid(),
                "/spec/regions/1/certificateArn",
                json!("arn:aws:iam::123456789012:server-certificate/x"),
            ),
            field: "spec.regions[1].certificateArn",
            says: "ACM certificate ARN",
        },
        Bad {
            what: "regional certificateArn in another region",
            manifest: with(
                valid(),
                "/spec/regions/1/certificateArn",
                json!("arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234"),
            ),
            field: "spec.regions[1].certificateArn",
            says: "certificate in this entry's region",
        },
        Bad {
            what: "httpUrl not https",
            manifest: with(
                valid(),
                "/spec/regions/1/backend/httpUrl",
                json!("http://eu.internal.example.com"),
            ),
            field: "spec.regions[1].backend.httpUrl",
            says: "https://",
        },
        Bad {
            what: "interval 20",
            manifest: with(valid(), "/spec/api/healthCheck/intervalSeconds", json!(20)),
            field: "spec.api.healthCheck.intervalSeconds",
            says: "10 or 30",
        },
        Bad {
            what: "threshold 0",
            manifest: with(valid(), "/spec/api/healthCheck/failureThreshold", json!(0)),
            field: "spec.api.healthCheck.failureThreshold",
            says: "greater than or equal to 1",
        },
        Bad {
            what: "threshold 11",
            manifest: with(valid(), "/spec/api/healthCheck/failureThreshold", json!(11)),
            field: "spec.api.healthCheck.failureThreshold",
            says: "less than or equal to 10",
        },
        Bad {
            what: "stage rate limit above AWS's default account limit",
            manifest: with(
                valid(),
                "/spec/api/throttling",
                json!({"rateLimit": 20000, "burstLimit": 100}),
            ),
            field: "spec.api.throttling.rateLimit",
            says: "less than or equal to 10000",
        },
        Bad {
            what: "route burst limit 0",
            manifest: with(
                valid(),
                "/spec/api/routes",
                json!([{"path": "/users", "methods": ["GET"], "throttling": {"rateLimit": 5, "burstLimit": 0}}]),
            ),
            field: "spec.api.routes[0].throttling.burstLimit",
            says: "greater than or equal to 1",
        },
        Bad {
            what: "execution logging level unknown",
            manifest: with(valid(), "/spec/api/executionLogging", json!("Debug")),
            field: "spec.api.executionLogging",
            says: "Unsupported value",
        },
        Bad {
            what: "followDatabaseWriter under Latency routing",
            manifest: with(
                valid(),
                "/spec/routing",
                json!({"policy": "Latency", "followDatabaseWriter": true}),
            ),
            field: "spec.routing.followDatabaseWriter",
            says: "needs Failover routing and database.aurora",
        },
        Bad {
            what: "access log format without a request id",
            manifest: with(
                valid(),
                "/spec/api/accessLogs",
                json!({"format": "$context.status"}),
            ),
            field: "spec.api.accessLogs.format",
            says: "must contain $context.requestId",
        },
        Bad {
            what: "access log retention CloudWatch Logs does not offer",
            manifest: with(valid(), "/spec/api/accessLogs", json!({"retentionDays": 2})),
            field: "spec.api.accessLogs.retentionDays",
            says: "one of the periods CloudWatch Logs offers",
        },
        Bad {
            what: "a provisioned table without capacity",
            manifest: with(
                valid(),
                "/spec/database/dynamodb",
                json!({"tables": [{"name": "rates", "partitionKey": {"name": "pair", "type": "String"}, "billingMode": "Provisioned"}]}),
            ),
            field: "spec.database.dynamodb.tables[0].billingMode",
            says: "readCapacityUnits and writeCapacityUnits are required",
        },
        Bad {
            what: "two tables of one name",
            manifest: with(
                valid(),
                "/spec/database/dynamodb",
                json!({"tables": [
                    {"name": "rates", "partitionKey": {"name": "pair", "type": "String"}},
                    {"name": "rates", "partitionKey": {"name": "id", "type": "String"}}
                ]}),
            ),
            field: "spec.database.dynamodb.tables[1]",
            says: "Duplicate value",
        },
        Bad {
            what: "a key of an unknown type",
            manifest: with(
                valid(),
                "/spec/database/dynamodb",
                json!({"tables": [{"name": "rates", "partitionKey": {"name": "pair", "type": "Bool"}}]}),
            ),
            field: "spec.database.dynamodb.tables[0].partitionKey.type",
            says: "Unsupported value",
        },
        Bad {
            what: "an alarm topic outside us-east-1",
            manifest: with(
                valid(),
                "/spec/api/healthCheck/alarm",
                json!({"topicArn": "arn:aws:sns:eu-west-1:123456789012:alerts"}),
            ),
            field: "spec.api.healthCheck.alarm.topicArn",
            says: "SNS topic ARN in us-east-1",
        },
        Bad {
            what: "health path without slash",
            manifest: with(valid(), "/spec/api/healthCheck/path", json!("health")),
            field: "spec.api.healthCheck.path",
            says: "start with '/'",
        },
        Bad {
            what: "stage name AWS refuses",
            manifest: with(valid(), "/spec/api/stageName", json!("v 1!")),
            field: "spec.api.stageName",
            says: "letters, digits",
        },
        Bad {
            what: "certificate not an ACM ARN",
            manifest: with(
                valid(),
                "/spec/certificate",
                json!({"arn": "arn:aws:iam::123456789012:server-certificate/x"}),
            ),
            field: "spec.certificate.arn",
            says: "ACM certificate ARN",
        },
        Bad {
            what: "edge certificate outside us-east-1",
            manifest: edge_cert_elsewhere,
            field: "spec.certificate.arn",
            says: "us-east-1",
        },
        Bad {
            what: "database primary not a region",
            manifest: with(
                valid(),
                "/spec/database/aurora/primaryRegion",
                json!("us-west-2"),
            ),
            field: "spec.database.aurora.primaryRegion",
            says: "one of spec.regions",
        },
        Bad {
            what: "resync under 30",
            manifest: with(valid(), "/spec/resyncSeconds", json!(10)),
            field: "spec.resyncSeconds",
            says: "greater than or equal to 30",
        },
        Bad {
            what: "unknown driftPolicy",
            manifest: with(valid(), "/spec/driftPolicy", json!("Ignore")),
            field: "spec.driftPolicy",
            says: "Unsupported value",
        },
        Bad {
            what: "unknown deletionPolicy",
            manifest: with(valid(), "/spec/deletionPolicy", json!("Orphan")),
            field: "spec.deletionPolicy",
            says: "Unsupported value",
        },
        Bad {
            what: "unknown routing policy",
            manifest: with(valid(), "/spec/routing/policy", json!("Weighted")),
            field: "spec.routing.policy",
            says: "Unsupported value",
        },
        Bad {
            what: "domain over ACM's 64 characters",
            manifest: with(
                with(valid(), "/spec/edge/enabled", json!(false)),
                "/spec/domain",
                json!(format!("{}.example.com", "a".repeat(53))),
            ),
            field: "spec.domain",
            says: "at most 64 characters",
        },
        Bad {
            what: "origin name over ACM's 64 characters",
            manifest: with(
                valid(),
                "/spec/domain",
                json!(format!("{}.example.com", "a".repeat(46))),
            ),
            field: "spec.domain",
            says: "at most 57 characters",
        },
        Bad {
            what: "edge.originDomain over ACM's 64 characters",
            manifest: with(
                valid(),
                "/spec/edge/originDomain",
                json!(format!("{}.example.com", "o".repeat(53))),
            ),
            field: "spec.edge.originDomain",
            says: "at most 64 characters",
        },
        Bad {
            what: "health check path over Route 53's 255 characters",
            manifest: with(
                with(valid(), "/spec/api/stageName", json!("s".repeat(100))),
                "/spec/api/healthCheck/path",
                json!(format!("/{}", "h".repeat(160))),
            ),
            field: "spec.api.healthCheck.path",
            says: "255 characters",
        },
        Bad {
            what: "every region in maintenance",
            manifest: all_maintenance,
            field: "spec.regions",
            says: "at least one region must stay out of maintenance",
        },
    ]
}

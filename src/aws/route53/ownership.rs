//! TXT records that mark which GlobalApi owns a DNS name (Route 53 records
//! take no tags), in the manner of external-dns's registry.

use crate::target::{OWNER_TAG, Target, UID_TAG};

use super::record::{Record, RecordKey, RecordValue, Routing};

const PREFIX: &str = "_globalapi.";
const HERITAGE: &str = "heritage=globalapi";

/// The name of the TXT record that owns `name`.
pub fn owner_record_name(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// The name an ownership TXT record owns, if `record` is one.
pub(crate) fn owned_name(record: &Record) -> Option<&str> {
    if record.key.record_type != "TXT" {
        return None;
    }
    record.key.name.strip_prefix(PREFIX)
}

/// Whether `name` is itself an ownership record's name.
pub(crate) fn is_owner_record_name(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// The ownership TXT record of `name` for `target`.
pub fn owner_record(target: &Target, name: &str, ttl: i64) -> Record {
    let text = format!(
        "\"{HERITAGE},{OWNER_TAG}={},{UID_TAG}={}\"",
        target.owner(),
        target.uid
    );
    Record {
        key: RecordKey {
            name: owner_record_name(name),
            record_type: "TXT".into(),
            set_identifier: None,
        },
        routing: Routing::Simple,
        health_check_id: None,
        value: RecordValue::Values {
            ttl,
            values: vec![text],
        },
    }
}

/// Who an ownership record names, if it is one of ours: (owner, uid).
pub(crate) fn parse_owner(record: &Record) -> Option<(String, String)> {
    let RecordValue::Values { values, .. } = &record.value else {
        return None;
    };
    values.iter().find_map(|v| {
        let text = v.trim_matches('"');
        let mut parts = text.split(',');
        if parts.next()? != HERITAGE {
            return None;
        }
        let mut owner = None;
        let mut uid = None;
        for part in parts {
            match part.split_once('=') {
                Some((k, val)) if k == OWNER_TAG => owner = Some(val.to_owned()),
                Some((k, val)) if k == UID_TAG => uid = Some(val.to_owned()),
                _ => {}
            }
        }
        Some((owner?, uid?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{LATENCY, target};

    #[test]
    fn ownership_round_trips() {
        let t = target(LATENCY);
        let record = owner_record(&t, "origin.api.example.com", 60);
        assert_eq!(record.key.name, "_globalapi.origin.api.example.com");
        assert_eq!(parse_owner(&record), Some((t.owner(), t.uid.clone())));
    }

    #[test]
    fn foreign_txt_is_not_an_owner() {
        let record = Record {
            key: RecordKey {
                name: "_globalapi.x.example.com".into(),
                record_type: "TXT".into(),
                set_identifier: None,
            },
            routing: Routing::Simple,
            health_check_id: None,
            value: RecordValue::Values {
                ttl: 60,
                values: vec!["\"v=spf1 -all\"".into()],
            },
        };
        assert_eq!(parse_owner(&record), None);
    }
}

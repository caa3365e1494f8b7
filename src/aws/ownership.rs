//! Whose a resource is, from its tags: the one ownership rule of every
//! service whose resources carry tags.

use std::collections::BTreeMap;

use crate::target::{OWNER_TAG, UID_TAG};

/// Whom a resource's tags name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Tagged with our uid.
    Ours,
    /// Tagged with another uid; `owner` is its owner tag when present.
    Foreign { owner: Option<String> },
    /// No uid tag at all.
    Untagged,
}

impl Ownership {
    /// From a resource's tags, for the target with `uid`.
    pub(crate) fn from_tags<'a>(
        uid: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
        match tags.get(UID_TAG) {
            Some(found) if *found == uid => Ownership::Ours,
            Some(_) => Ownership::Foreign {
                owner: tags.get(OWNER_TAG).map(|o| (*o).to_owned()),
            },
            None => Ownership::Untagged,
        }
    }

    /// Tagged with our uid.
    pub(crate) fn is_ours(&self) -> bool {
        *self == Ownership::Ours
    }

    /// `GlobalApi payments/exchange`, `another owner`, or `no GlobalApi`.
    pub fn describe(&self) -> String {
        match self {
            Ownership::Ours => "this GlobalApi".into(),
            Ownership::Foreign { owner: Some(owner) } => format!("GlobalApi {owner}"),
            Ownership::Foreign { owner: None } => "another GlobalApi".into(),
            Ownership::Untagged => "no GlobalApi".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_follows_the_uid_tag() {
        let ours = [(UID_TAG, "u1"), (OWNER_TAG, "a/b")];
        assert_eq!(Ownership::from_tags("u1", ours), Ownership::Ours);
        assert_eq!(
            Ownership::from_tags("u2", ours),
            Ownership::Foreign {
                owner: Some("a/b".into())
            }
        );
        assert_eq!(
            Ownership::from_tags("u1", [("Name", "x")]),
            Ownership::Untagged
        );
    }
}

//! What a step knows of a part an earlier step owns: the outputs handed
//! from one service to the next. "Unknown" is not "absent": a part whose
//! read failed keeps serving as it is.

/// A part another step made, as the steps after it see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Observed<T> {
    /// Read from AWS (or made) in this pass.
    Known(T),
    /// AWS was read and the part is not there (yet).
    #[default]
    Absent,
    /// The read failed, with AWS's error: what the part serves stays as it is.
    Unknown(String),
}

impl<T> Observed<T> {
    /// `Known` for `Some`, `Absent` for `None`.
    pub(crate) fn from_option(value: Option<T>) -> Self {
        value.map_or(Observed::Absent, Observed::Known)
    }

    pub fn known(&self) -> Option<&T> {
        match self {
            Observed::Known(value) => Some(value),
            _ => None,
        }
    }

    pub(crate) fn is_known(&self) -> bool {
        matches!(self, Observed::Known(_))
    }

    /// Why it is unknown, when it is.
    pub fn unknown(&self) -> Option<&str> {
        match self {
            Observed::Unknown(why) => Some(why),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Observed<U> {
        match self {
            Observed::Known(value) => Observed::Known(f(value)),
            Observed::Absent => Observed::Absent,
            Observed::Unknown(why) => Observed::Unknown(why),
        }
    }

    pub fn as_ref(&self) -> Observed<&T> {
        match self {
            Observed::Known(value) => Observed::Known(value),
            Observed::Absent => Observed::Absent,
            Observed::Unknown(why) => Observed::Unknown(why.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_neither_known_nor_absent() {
        let unknown: Observed<u8> = Observed::Unknown("AccessDenied".into());
        assert_eq!(unknown.known(), None);
        assert_eq!(unknown.unknown(), Some("AccessDenied"));
        assert_ne!(unknown, Observed::Absent);
        assert_eq!(
            Observed::from_option(Some(1)).map(|v| v + 1),
            Observed::Known(2)
        );
        assert_eq!(Observed::<u8>::from_option(None), Observed::Absent);
    }
}

//! Text for people, cut to the room a Kubernetes field or Event gives it.

/// `text` cut to at most `max` bytes on a character boundary, with `…`
/// after a cut.
pub fn cut(text: String, max: usize) -> String {
    let whole = text.len();
    let mut text = truncated(text, max);
    if text.len() < whole {
        text.push('…');
    }
    text
}

/// `text` cut to at most `max` bytes on a character boundary, for fields
/// with no room for a mark (an Event's action).
pub fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary() {
        assert_eq!(cut("abc".into(), 3), "abc");
        assert_eq!(cut("abcd".into(), 3), "abc…");
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(cut("aé".into(), 2), "a…");
        assert_eq!(truncated("aé".into(), 2), "a");
        assert_eq!(truncated("abc".into(), 3), "abc");
    }
}

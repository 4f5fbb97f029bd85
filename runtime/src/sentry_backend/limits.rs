//! How long a string kansoku puts on a Sentry event, transaction or span may be: header
//! values, the URL path and query, `tracing` fields. As sentry-python's `max_value_length`
//! (1024 for most of its life), longer ones are cut at a character and say so.

/// The longest value, in bytes, [`bounded`] keeps.
pub(crate) const MAX_VALUE: usize = 1024;
/// What ends a cut value.
pub(crate) const CUT: &str = "…[truncated]";

/// `text` within [`MAX_VALUE`] bytes.
pub(crate) fn bounded(text: &str) -> String {
    if text.len() <= MAX_VALUE {
        return text.to_owned();
    }
    let mut out = String::with_capacity(MAX_VALUE);
    out.push_str(&text[..cut_at(text)]);
    out.push_str(CUT);
    out
}

fn cut_at(text: &str) -> usize {
    let mut end = MAX_VALUE - CUT.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_at_a_character_and_say_so() {
        assert_eq!(bounded("namba"), "namba");
        let long = "é".repeat(2000);
        let cut = bounded(&long);
        assert!(
            cut.len() <= MAX_VALUE && cut.ends_with(CUT),
            "{}",
            cut.len()
        );
        let exact = "x".repeat(MAX_VALUE);
        assert_eq!(bounded(&exact), exact);
    }
}

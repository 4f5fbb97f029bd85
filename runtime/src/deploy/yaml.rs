//! The little YAML the generator writes: double-quoted scalars, so no value (a query
//! expression, a template, a regular expression) can change the document's structure.

/// `text` as a double-quoted YAML scalar.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_escape_what_yaml_would_read_otherwise() {
        assert_eq!(
            super::quote(r#"rate(x{a=~"b\\.c"}[5m]) # not a comment"#),
            r#""rate(x{a=~\"b\\\\.c\"}[5m]) # not a comment""#
        );
        assert_eq!(super::quote("a\nb"), r#""a\nb""#);
    }
}

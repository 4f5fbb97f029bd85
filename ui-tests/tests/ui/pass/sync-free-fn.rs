#[kansoku::track_database_query("select", "shops")]
fn count_shops(rows: &[u32]) -> usize {
    rows.len()
}

#[kansoku::track_api_request]
fn ping() {}

#[kansoku::monitor_api_endpoint(name = "parse", op = "function")]
pub fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
    input.parse()
}

#[kansoku::track_api_request]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

fn main() {
    assert_eq!(count_shops(&[1, 2, 3]), 3);
    ping();
    assert_eq!(parse("7"), Ok(7));
    assert!(parse("x").is_err());
    assert_eq!(first_word("hello world"), "hello");
}

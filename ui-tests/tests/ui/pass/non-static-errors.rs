//! Error types that borrow, and generic ones, are classified like any other error.

use std::error::Error;
use std::fmt::{self, Display};

#[derive(Debug)]
struct ParseErr<'a>(&'a str);

impl Display for ParseErr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot parse {:?}", self.0)
    }
}

impl Error for ParseErr<'_> {}

#[derive(Debug, PartialEq)]
struct MyErr;

impl Display for MyErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mine")
    }
}

impl Error for MyErr {}

#[kansoku::monitor_api_endpoint]
fn parse(s: &str) -> Result<u8, ParseErr<'_>> {
    s.parse().map_err(|_| ParseErr(s))
}

#[kansoku::track_database_query("select", "errors")]
fn first(errors: &[MyErr]) -> Result<(), &MyErr> {
    match errors.first() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[kansoku::monitor_api_endpoint]
fn check<E: Error>(error: Option<E>) -> Result<(), E> {
    match error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[kansoku::monitor_api_endpoint]
async fn check_later<E: Error>(error: Option<E>) -> Result<(), E> {
    match error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(parse("7").unwrap(), 7);
    assert_eq!(parse("x").unwrap_err().to_string(), "cannot parse \"x\"");
    assert_eq!(first(&[MyErr]), Err(&MyErr));
    assert_eq!(check(Some(MyErr)), Err(MyErr));
    assert_eq!(check_later(None::<MyErr>).await, Ok(()));
}

//! The body's values coerce to the declared return type, as in the plain function: the body
//! runs in a closure or `async` block whose return type is fixed before the body is checked.

use std::error::Error;
use std::fmt::{self, Display};

#[derive(Debug)]
struct MyErr;

impl Display for MyErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mine")
    }
}

impl Error for MyErr {}

trait Ret {
    fn value(&self) -> u8;
}

struct Thing;

impl Ret for Thing {
    fn value(&self) -> u8 {
        7
    }
}

struct Person {
    nickname: Option<String>,
}

impl Person {
    #[kansoku::track_api_request]
    fn name(&self) -> &str {
        if let Some(n) = &self.nickname {
            return n;
        }
        "anonymous"
    }

    #[kansoku::monitor_api_endpoint]
    async fn name_later(&self) -> &str {
        if let Some(n) = &self.nickname {
            return n;
        }
        "anonymous"
    }
}

#[kansoku::track_api_request]
fn label(flag: bool) -> Box<dyn Display> {
    if flag { Box::new(1) } else { Box::new("one") }
}

#[kansoku::track_database_query("select", "labels")]
async fn label_later(flag: bool) -> Box<dyn Display> {
    if flag { Box::new(1) } else { Box::new("one") }
}

#[kansoku::monitor_api_endpoint]
fn check(fail: bool) -> Result<(), Box<dyn Error>> {
    if fail {
        return Err(Box::new(MyErr));
    }
    Ok(())
}

#[kansoku::monitor_api_endpoint]
async fn check_later(fail: bool) -> Result<(), Box<dyn Error>> {
    if fail {
        return Err(Box::new(MyErr));
    }
    Ok(())
}

#[kansoku::track_api_request]
fn find() -> Option<&'static dyn Ret> {
    Some(&Thing)
}

#[kansoku::track_api_request]
async fn find_later() -> Option<&'static dyn Ret> {
    Some(&Thing)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let named = Person { nickname: Some("nick".into()) };
    let anonymous = Person { nickname: None };
    assert_eq!(named.name(), "nick");
    assert_eq!(anonymous.name(), "anonymous");
    assert_eq!(named.name_later().await, "nick");
    assert_eq!(label(true).to_string(), "1");
    assert_eq!(label(false).to_string(), "one");
    assert_eq!(label_later(false).await.to_string(), "one");
    assert_eq!(check(true).unwrap_err().to_string(), "mine");
    assert!(check(false).is_ok());
    assert!(check_later(true).await.is_err());
    assert_eq!(find().map(Ret::value), Some(7));
    assert_eq!(find_later().await.map(Ret::value), Some(7));
}

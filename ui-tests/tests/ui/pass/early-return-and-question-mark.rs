use std::num::ParseIntError;

#[kansoku::track_api_request]
fn sum(a: &str, b: &str) -> Result<u32, ParseIntError> {
    let a: u32 = a.parse()?;
    if a == 0 {
        return Ok(0);
    }
    Ok(a + b.parse::<u32>()?)
}

#[kansoku::track_api_request]
async fn sum_async(a: &str, b: &str) -> Result<u32, ParseIntError> {
    let a: u32 = a.parse()?;
    if a == 0 {
        return Ok(0);
    }
    tokio::task::yield_now().await;
    Ok(a + b.parse::<u32>()?)
}

#[kansoku::track_database_query("select", "shops")]
fn first_even(values: &[u32]) -> Option<u32> {
    for value in values {
        if value % 2 == 0 {
            return Some(*value);
        }
    }
    let last = values.last()?;
    Some(*last + 1)
}

#[kansoku::track_api_request]
async fn boxed_error(input: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    Ok(input.parse::<u32>()?)
}

#[tokio::main]
async fn main() {
    assert_eq!(sum("1", "2"), Ok(3));
    assert_eq!(sum("0", "x"), Ok(0));
    assert!(sum("1", "x").is_err());
    assert_eq!(sum_async("1", "2").await, Ok(3));
    assert_eq!(sum_async("0", "x").await, Ok(0));
    assert!(sum_async("x", "2").await.is_err());
    assert_eq!(first_even(&[1, 4]), Some(4));
    assert_eq!(first_even(&[1]), Some(2));
    assert_eq!(first_even(&[]), None);
    assert!(boxed_error("x").await.is_err());
}

use std::fmt::Display;

#[kansoku::track_api_request]
fn evens(input: impl IntoIterator<Item = u32>) -> impl Iterator<Item = u32> {
    input.into_iter().filter(|n| n % 2 == 0)
}

#[kansoku::track_api_request]
fn parsed(input: &str) -> Result<impl Display, std::num::ParseIntError> {
    input.parse::<u32>()
}

#[kansoku::track_api_request]
async fn shout(input: impl Display + Send) -> impl Display {
    format!("{input}!")
}

#[kansoku::track_api_request]
async fn boxed(input: impl Display) -> Box<impl Display> {
    Box::new(input.to_string())
}

#[kansoku::track_api_request]
fn later(x: u32) -> impl std::future::Future<Output = u32> + Send {
    async move { x + 1 }
}

#[tokio::main]
async fn main() {
    assert_eq!(evens([1, 2, 3, 4]).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(parsed("5").unwrap().to_string(), "5");
    assert_eq!(shout("hi").await.to_string(), "hi!");
    assert_eq!(boxed(1).await.to_string(), "1");
    assert_eq!(later(1).await, 2);
}

//! `Box::pin` of a value that is not a future is a plain return value, and a `use` in the body
//! that shadows a name of the return type does not change what the return type means.

use std::future::Future;
use std::pin::Pin;

struct Node {
    v: u8,
}

impl Node {
    #[kansoku::track_api_request]
    fn pinned(v: u8) -> Pin<Box<Self>> {
        Box::pin(Node { v })
    }
}

#[kansoku::track_api_request]
fn counter() -> Pin<Box<dyn Iterator<Item = u8> + Unpin>> {
    Box::pin(0..3)
}

mod shadow {
    pub struct Output;
    pub struct Result;
}

#[kansoku::track_api_request]
fn later() -> impl Future<Output = u8> {
    use shadow::Output;
    let _unused = Output;
    async move { 1 }
}

#[kansoku::track_api_request]
async fn shadowed() -> Result<u8, String> {
    #[allow(unused_imports)]
    use shadow::Result;
    Ok(2)
}

#[kansoku::track_api_request]
fn shadowed_sync() -> Result<u8, String> {
    #[allow(unused_imports)]
    use shadow::Result;
    Ok(3)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Node::pinned(3).v, 3);
    assert_eq!(counter().next(), Some(0));
    assert_eq!(later().await, 1);
    assert_eq!(shadowed().await, Ok(2));
    assert_eq!(shadowed_sync(), Ok(3));
}

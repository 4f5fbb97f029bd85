//! Above `#[tracing::instrument]`, on functions that return the future they build: tracing
//! records the arguments before the tail future takes them, as without kansoku.

use std::future::Future;

#[kansoku::track_api_request]
#[tracing::instrument]
fn stacked(name: String) -> impl Future<Output = usize> {
    async move { name.len() }
}

#[async_trait::async_trait]
trait Counter {
    async fn bump(&mut self, by: usize) -> usize;
}

#[derive(Debug)]
struct Count(usize);

#[async_trait::async_trait]
impl Counter for Count {
    #[kansoku::track_api_request]
    #[tracing::instrument]
    async fn bump(&mut self, by: usize) -> usize {
        self.0 += by;
        self.0
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(stacked("four".to_owned()).await, 4);
    let mut count = Count(1);
    assert_eq!(count.bump(2).await, 3);
}

use std::sync::Arc;

use async_trait::async_trait;

#[derive(Debug, PartialEq)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}

impl std::error::Error for NotFound {}

#[async_trait]
trait ShopRepo {
    async fn get(&self, id: u32) -> Result<String, NotFound>;
    async fn put(&mut self, name: String);
    async fn shared(self: Arc<Self>) -> usize;
    async fn traced(&self) -> Result<usize, NotFound>;

    #[kansoku::track_database_query("select", "shops")]
    async fn count(&self) -> usize {
        0
    }
}

#[derive(Default)]
struct Memory {
    names: Vec<String>,
}

#[async_trait]
impl ShopRepo for Memory {
    #[kansoku::track_database_query("select", "shops")]
    async fn get(&self, id: u32) -> Result<String, NotFound> {
        let index = usize::try_from(id).map_err(|_| NotFound)?;
        self.names.get(index).cloned().ok_or(NotFound)
    }

    #[kansoku::track_database_query(operation = "insert", table = "shops")]
    #[kansoku::track_api_request(method = "POST", endpoint = "/shops")]
    async fn put(&mut self, name: String) {
        tokio::task::yield_now().await;
        self.names.push(name);
    }

    #[kansoku::monitor_api_endpoint]
    #[tracing::instrument(skip(self))]
    async fn shared(self: Arc<Self>) -> usize {
        self.names.len()
    }

    #[tracing::instrument(skip(self), err)]
    #[kansoku::track_database_query("select", "shops")]
    async fn traced(&self) -> Result<usize, NotFound> {
        if self.names.is_empty() {
            return Err(NotFound);
        }
        Ok(self.names.len())
    }
}

#[tokio::main]
async fn main() {
    let mut repo = Memory::default();
    repo.put("namba".to_owned()).await;
    assert_eq!(repo.get(0).await, Ok("namba".to_owned()));
    assert_eq!(repo.get(1).await, Err(NotFound));
    assert_eq!(repo.count().await, 0);
    assert_eq!(repo.traced().await, Ok(1));
    assert_eq!(Memory::default().traced().await, Err(NotFound));
    let repo = Arc::new(repo);
    // The boxed future is still `Send`: it can be spawned.
    let handle = tokio::spawn(Arc::clone(&repo).shared());
    assert_eq!(handle.await.unwrap(), 1);
}

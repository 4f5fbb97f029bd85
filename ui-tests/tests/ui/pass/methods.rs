use std::sync::Arc;

#[derive(Default)]
struct Shops {
    names: Vec<String>,
}

impl Shops {
    #[kansoku::track_database_query("select", "shops")]
    fn len(&self) -> usize {
        self.names.len()
    }

    #[kansoku::track_database_query("select", "shops")]
    fn first(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    #[kansoku::track_database_query("insert", "shops")]
    fn push(&mut self, name: &str) {
        self.names.push(name.to_owned());
    }

    #[kansoku::track_database_query("update", "shops")]
    fn last_mut(&mut self) -> &mut String {
        self.names.last_mut().expect("not empty")
    }

    #[kansoku::track_database_query("delete", "shops")]
    fn into_names(self) -> Vec<String> {
        self.names
    }

    #[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
    async fn list(&self) -> Vec<String> {
        self.names.clone()
    }

    #[kansoku::track_api_request(method = "POST", endpoint = "/shops")]
    async fn add(&mut self, name: String) -> &str {
        self.names.push(name);
        self.names.last().expect("just pushed")
    }

    #[kansoku::monitor_api_endpoint]
    async fn shared(self: Arc<Self>) -> usize {
        tokio::task::yield_now().await;
        self.names.len()
    }

    #[kansoku::monitor_api_endpoint]
    fn shared_sync(self: Arc<Self>) -> usize {
        self.names.len()
    }

    #[kansoku::track_api_request]
    async fn consume(self) -> Vec<String> {
        self.names
    }

    #[kansoku::track_api_request]
    fn new_named(name: &str) -> Self {
        Shops {
            names: vec![name.to_owned()],
        }
    }
}

#[tokio::main]
async fn main() {
    let mut shops = Shops::default();
    shops.push("namba");
    assert_eq!(shops.len(), 1);
    assert_eq!(shops.first(), Some("namba"));
    shops.last_mut().push('!');
    assert_eq!(shops.add("umeda".to_owned()).await, "umeda");
    assert_eq!(shops.list().await, ["namba!", "umeda"]);
    let shared = Arc::new(shops);
    assert_eq!(Arc::clone(&shared).shared().await, 2);
    assert_eq!(Arc::clone(&shared).shared_sync(), 2);
    let shops = Arc::try_unwrap(shared).ok().expect("only owner");
    assert_eq!(shops.consume().await.len(), 2);
    assert_eq!(Shops::new_named("tenma").into_names(), ["tenma"]);
}

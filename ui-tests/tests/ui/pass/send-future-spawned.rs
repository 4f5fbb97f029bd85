use std::sync::Arc;

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops(names: Arc<Vec<String>>) -> usize {
    tokio::task::yield_now().await;
    names.len()
}

struct Service {
    names: Vec<String>,
}

impl Service {
    #[kansoku::monitor_api_endpoint]
    async fn handle(self: Arc<Self>) -> usize {
        tokio::task::yield_now().await;
        self.names.len()
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main]
async fn main() {
    let names = Arc::new(vec!["namba".to_owned()]);
    assert_eq!(tokio::spawn(get_shops(names)).await.unwrap(), 1);
    let service = Arc::new(Service { names: Vec::new() });
    assert_eq!(
        tokio::spawn(assert_send(service.handle())).await.unwrap(),
        0
    );
}

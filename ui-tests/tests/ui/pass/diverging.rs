#[kansoku::track_api_request]
fn fail_forever(reason: &str) -> ! {
    panic!("{reason}")
}

#[kansoku::track_api_request]
async fn fail_forever_async(reason: &str) -> ! {
    tokio::task::yield_now().await;
    panic!("{reason}")
}

#[tokio::main]
async fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| fail_forever("sync")).is_err());
    let task = tokio::spawn(async { fail_forever_async("async").await });
    assert!(task.await.unwrap_err().is_panic());
}

//! Arguments and locals are dropped in the order the plain function drops them: locals first,
//! then the arguments, the last one first, whether the body uses them or not.

use std::sync::Mutex;

static LOG: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

struct Noisy(&'static str);

impl Drop for Noisy {
    fn drop(&mut self) {
        LOG.lock().unwrap().push(self.0);
    }
}

fn take_log() -> Vec<&'static str> {
    std::mem::take(&mut *LOG.lock().unwrap())
}

#[allow(unused_variables)]
async fn plain_async(a: Noisy, b: Noisy, (c, d): (Noisy, Noisy)) -> usize {
    let local = Noisy("local");
    b.0.len()
}

#[allow(unused_variables)]
#[kansoku::track_api_request]
async fn annotated_async(a: Noisy, b: Noisy, (c, d): (Noisy, Noisy)) -> usize {
    let local = Noisy("local");
    b.0.len()
}

#[allow(unused_variables, clippy::needless_pass_by_value)]
fn plain_sync(a: Noisy, b: Noisy, (c, d): (Noisy, Noisy)) -> usize {
    let local = Noisy("local");
    b.0.len()
}

#[allow(unused_variables, clippy::needless_pass_by_value)]
#[kansoku::track_database_query("select", "noise")]
fn annotated_sync(a: Noisy, b: Noisy, (c, d): (Noisy, Noisy)) -> usize {
    let local = Noisy("local");
    b.0.len()
}

// A `_` argument lives to the end of the body too, and is dropped in its place.
#[allow(unused_variables)]
async fn plain_ignored(a: Noisy, _: Noisy, b: Noisy) -> usize {
    let local = Noisy("local");
    a.0.len() + b.0.len()
}

#[allow(unused_variables)]
#[kansoku::track_api_request]
async fn annotated_ignored(a: Noisy, _: Noisy, b: Noisy) -> usize {
    let local = Noisy("local");
    a.0.len() + b.0.len()
}

fn arguments() -> (Noisy, Noisy, (Noisy, Noisy)) {
    (Noisy("a"), Noisy("b"), (Noisy("c"), Noisy("d")))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (a, b, cd) = arguments();
    plain_async(a, b, cd).await;
    let plain = take_log();
    assert_eq!(plain, ["local", "d", "c", "b", "a"]);

    let (a, b, cd) = arguments();
    annotated_async(a, b, cd).await;
    assert_eq!(take_log(), plain);

    let (a, b, cd) = arguments();
    plain_sync(a, b, cd);
    assert_eq!(take_log(), plain);

    let (a, b, cd) = arguments();
    annotated_sync(a, b, cd);
    assert_eq!(take_log(), plain);

    plain_ignored(Noisy("a"), Noisy("_"), Noisy("b")).await;
    let plain = take_log();
    assert_eq!(plain, ["local", "b", "_", "a"]);
    annotated_ignored(Noisy("a"), Noisy("_"), Noisy("b")).await;
    assert_eq!(take_log(), plain);
}

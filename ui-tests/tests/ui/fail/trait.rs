#[kansoku::track_api_request]
trait Handler {
    fn handle(&self);
}

fn main() {}

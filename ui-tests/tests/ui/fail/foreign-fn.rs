extern "C" {
    #[kansoku::track_api_request]
    fn abs(input: i32) -> i32;
}

fn main() {}

use std::fmt::Display;

#[kansoku::track_api_request]
fn describe<T: Display>(value: T) -> String {
    value.to_string()
}

#[kansoku::track_api_request]
async fn describe_async<T>(value: T) -> String
where
    T: Display + Send,
{
    value.to_string()
}

#[kansoku::track_database_query("select", "items")]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() {
        a
    } else {
        b
    }
}

struct Repo<T> {
    items: Vec<T>,
}

impl<T: Clone + Send + Sync> Repo<T> {
    #[kansoku::track_database_query("select", "items")]
    fn get(&self, index: usize) -> Option<T> {
        self.items.get(index).cloned()
    }

    #[kansoku::track_database_query("select", "items")]
    async fn all<const N: usize>(&self) -> Vec<T> {
        self.items.iter().take(N).cloned().collect()
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(describe(3), "3");
    assert_eq!(describe_async("x").await, "x");
    assert_eq!(longest("ab", "c"), "ab");
    let repo = Repo {
        items: vec![1, 2, 3],
    };
    assert_eq!(repo.get(1), Some(2));
    assert_eq!(repo.all::<2>().await, [1, 2]);
}

trait Shops {
    #[kansoku::track_database_query("select", "shops")]
    fn all(&self) -> Vec<String>;
}

fn main() {}

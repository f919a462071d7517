//! TEMPORARY (community module author): generate / import / export for timing. Delete me.
use std::time::Instant;
use community_gateway::community;
use community_gateway::store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("community_gateway=debug").with_timer(tracing_subscriber::fmt::time::uptime()).init();
    let args: Vec<String> = std::env::args().collect();
    match args[1].as_str() {
        "gen" => {
            let t = Instant::now();
            let f = community::synthetic(args[3].parse()?, args[4].parse()?, args[5].parse()?);
            eprintln!("synthetic {:?}", t.elapsed());
            let t = Instant::now();
            let text = community::to_json(&f);
            eprintln!("to_json {:?}", t.elapsed());
            std::fs::write(&args[2], text)?;
        }
        "import" => {
            let t0 = Instant::now();
            let store = Store::connect(&args[3], 4).await?;
            store.migrate().await?;
            let t = Instant::now();
            let bytes = std::fs::read(&args[2])?;
            eprintln!("read {:?}", t.elapsed());
            let t = Instant::now();
            let f = community::parse(&bytes)?;
            eprintln!("parse {:?}", t.elapsed());
            let t = Instant::now();
            let r = community::import(&store, &f).await?;
            eprintln!("import {:?}", t.elapsed());
            println!("{r} in {:?}", t0.elapsed());
        }
        "export" => {
            let store = Store::connect(&args[3], 4).await?;
            let t = Instant::now();
            let f = community::export(&store).await?;
            eprintln!("export {:?}", t.elapsed());
            std::fs::write(&args[2], community::to_json(&f))?;
        }
        _ => anyhow::bail!("gen|import|export"),
    }
    Ok(())
}

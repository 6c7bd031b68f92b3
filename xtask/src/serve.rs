//! `cargo xtask serve`: the dev server. Serves `dist/` (correct MIME types, Range requests,
//! revalidating Cache-Control) and model files, either under `/models/` on the same origin or
//! from a second origin (`--model-port`) with CORS, to prove hosting at another
//! `MODEL_BASE_URL`. With `--test-hooks` (for the browser tests only) the model routes also
//! log requests and inject faults (see `test_hooks`). HTML pages carry the Content-Security-Policy
//! built from the deploy config (`--embed-origin` overrides its `embed_origins`).

use crate::test_hooks::TestHooks;
use crate::{build, fixtures, pack, paths};
use anyhow::{Context, Result};
use axum::http::{header, HeaderValue, Method};
use axum::Router;
use hearth_protocol::manifest::DEFAULT_CHUNK_BYTES;
use hearth_protocol::DeployConfig;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

#[derive(clap::Args)]
pub struct Args {
    /// Port of the app (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind. Beyond loopback, browsers only allow WebGPU and service workers over HTTPS.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// A GGUF model to pack (into `.cache/packed/`) and serve. Without it or --model-dir, the
    /// test model (SmolLM2-135M-Instruct requantized to Q6_K) is fetched, packed and served.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A folder of packed models (`models.json`, one folder per model) to serve as it is.
    #[arg(long, conflicts_with = "model")]
    pub model_dir: Option<PathBuf>,
    /// Serve the model files from this second port: another origin, with CORS.
    #[arg(long)]
    pub model_port: Option<u16>,
    /// Serve the existing dist/ without building.
    #[arg(long)]
    pub no_build: bool,
    /// Skip wasm-opt when building (faster, larger modules).
    #[arg(long)]
    pub no_opt: bool,
    /// For tests only: the model routes count requests (GET /__test/requests, POST
    /// /__test/reset) and corrupt or cut chosen responses (POST /__test/faults).
    #[arg(long)]
    pub test_hooks: bool,
    /// An origin (`http://host:port`) that may frame the embed and drive it, instead of
    /// config.json's `embed_origins`; repeat for several.
    #[arg(long = "embed-origin", value_name = "ORIGIN")]
    pub embed_origins: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let dist = if args.no_build {
        let dist = build::dist();
        anyhow::ensure!(
            dist.join("index.html").exists(),
            "dist/ is not built: run `cargo xtask build` or drop --no-build"
        );
        dist
    } else {
        build::run(&build::Args {
            no_opt: args.no_opt,
        })?
    };
    let model_dir = match (&args.model_dir, &args.model) {
        (Some(dir), _) => {
            anyhow::ensure!(
                dir.is_dir(),
                "--model-dir {} is not a folder",
                dir.display()
            );
            dir.clone()
        }
        (None, model) => {
            let model = match model {
                Some(model) => model.clone(),
                None => fixtures::ensure_all()?.join(fixtures::DEFAULT_MODEL),
            };
            anyhow::ensure!(model.is_file(), "--model {} is not a file", model.display());
            let out = paths::cache().join("packed");
            pack::pack(&model, &out, DEFAULT_CHUNK_BYTES, None)
                .with_context(|| format!("packing {}", model.display()))?;
            out
        }
    };
    tokio::runtime::Runtime::new()?.block_on(serve(args, dist, model_dir))
}

async fn serve(args: Args, dist: PathBuf, models: PathBuf) -> Result<()> {
    let app_listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let app_addr = app_listener.local_addr()?;
    let app_url = format!("http://{}/", url_host(app_addr));

    let hooks = args.test_hooks.then(TestHooks::default);
    if hooks.is_some() {
        println!("Test hooks are on: model routes answer /__test/requests, /__test/reset, /__test/faults");
    }
    // The deployer's config (embed origins, embed model) is kept; where models live is this
    // server's to say.
    let mut config = crate::csp::read_config(&dist).unwrap_or_else(|e| {
        eprintln!("warning: {e:#}; using the default config");
        DeployConfig::default()
    });
    if !args.embed_origins.is_empty() {
        config.embed_origins = args.embed_origins.clone();
    }
    let mut model_server = None;
    let same_origin_models = match args.model_port {
        Some(port) => {
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, port))
                .await
                .with_context(|| format!("cannot listen on {}:{port}", args.host))?;
            let url = format!("http://{}/", url_host(listener.local_addr()?));
            config.model_base_url = url.clone();
            println!("Serving models at {url} (another origin, with CORS)");
            model_server = Some((listener, model_router(&models, hooks.as_ref())));
            None
        }
        None => {
            config.model_base_url = format!("{app_url}models/");
            Some(models.as_path())
        }
    };
    write_config(&dist, &config)?;

    if !config.embed_origins.is_empty() {
        println!("Embed allowed from: {}", config.embed_origins.join(" "));
    }
    println!("Serving Hearth at {app_url}");
    print_browser_advice(&args.host, &app_url);

    let policy = crate::csp::policy(&config);
    let app = crate::csp::on_pages(
        app_router(&dist, same_origin_models, hooks.as_ref()),
        &policy,
    )?;
    let app_server = axum::serve(app_listener, app);
    match model_server {
        Some((listener, router)) => {
            tokio::try_join!(app_server, axum::serve(listener, router))?;
        }
        None => app_server.await?,
    }
    Ok(())
}

/// The deploy config is written at serve time: it names where models live for this server.
fn write_config(dist: &Path, config: &DeployConfig) -> Result<()> {
    let path = dist.join(hearth_protocol::config::CONFIG_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(config)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// The host:port a browser on this machine uses to reach `addr` (an unspecified address such
/// as 0.0.0.0 listens everywhere but is not a useful URL).
fn url_host(addr: SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => format!("127.0.0.1:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
    }
}

fn print_browser_advice(host: &IpAddr, url: &str) {
    if !host.is_loopback() {
        println!(
            "Note: {host} is not a loopback address. Browsers allow WebGPU and service workers only in \
             secure contexts: serve over HTTPS (e.g. behind a TLS reverse proxy) or open the app via \
             http://127.0.0.1 / http://localhost (an SSH tunnel works)."
        );
    }
    println!("Open it in Chrome or Edge 113+ (WebGPU). On Linux, start Chromium with:");
    println!("  chromium --enable-unsafe-webgpu --enable-features=Vulkan {url}");
    println!("Without a GPU driver, add: --use-vulkan=swiftshader --use-webgpu-adapter=swiftshader --use-angle=swiftshader");
}

fn no_cache() -> SetResponseHeaderLayer<HeaderValue> {
    // Revalidate every time: the service worker, not the HTTP cache, keeps the app offline.
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
}

/// The app: `dist/`, plus the model files under `/models/` when they share its origin.
pub fn app_router(dist: &Path, models: Option<&Path>, hooks: Option<&TestHooks>) -> Router {
    let mut router = Router::new();
    if let Some(models) = models {
        router = router.nest_service("/models", model_router(models, hooks));
    }
    router
        .fallback_service(ServeDir::new(dist).append_index_html_on_directories(true))
        .layer(no_cache())
}

/// The folder of packed models, readable from any origin (CORS), with Range requests.
pub fn model_router(models: &Path, hooks: Option<&TestHooks>) -> Router {
    let mut router = Router::new().fallback_service(ServeDir::new(models));
    if let Some(hooks) = hooks {
        router = hooks.wrap(router);
    }
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([header::RANGE])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
            header::ETAG,
            header::LAST_MODIFIED,
        ]);
    router.layer(no_cache()).layer(cors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-serve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    async fn get(router: Router, path: &str, headers: &[(&str, &str)]) -> axum::response::Response {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        router
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header<'a>(r: &'a axum::response::Response, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    #[test]
    fn urls_name_a_reachable_host() {
        let at = |s: &str| url_host(s.parse().unwrap());
        assert_eq!(at("0.0.0.0:80"), "127.0.0.1:80");
        assert_eq!(at("[::]:80"), "127.0.0.1:80");
        assert_eq!(at("192.168.1.5:8080"), "192.168.1.5:8080");
        assert_eq!(at("[::1]:8080"), "[::1]:8080");
    }

    #[tokio::test]
    async fn app_files_have_their_mime_types_and_revalidate() {
        let dist = temp_dir("dist");
        for f in [
            "index.html",
            "a.wasm",
            "manifest.webmanifest",
            "sw.js",
            "x.css",
        ] {
            std::fs::write(dist.join(f), b"0123456789").unwrap();
        }
        let router = app_router(&dist, None, None);
        for (path, mime) in [
            ("/", "text/html"),
            ("/a.wasm", "application/wasm"),
            ("/manifest.webmanifest", "application/manifest+json"),
            ("/sw.js", "text/javascript"),
            ("/x.css", "text/css"),
        ] {
            let r = get(router.clone(), path, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(
                header(&r, "content-type").starts_with(mime),
                "{path}: {}",
                header(&r, "content-type")
            );
            assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        }
        assert_eq!(
            get(router, "/missing.js", &[]).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn only_pages_carry_the_content_security_policy() {
        let dist = temp_dir("csp");
        for f in ["index.html", "embed.html", "app.js", "a.wasm"] {
            std::fs::write(dist.join(f), b"x").unwrap();
        }
        let policy = "default-src 'self'; frame-ancestors 'self' http://localhost:9";
        let router = crate::csp::on_pages(app_router(&dist, None, None), policy).unwrap();
        for (path, expected) in [
            ("/", policy),
            ("/embed.html", policy),
            ("/app.js", ""),
            ("/a.wasm", ""),
        ] {
            let r = get(router.clone(), path, &[]).await;
            assert_eq!(header(&r, "content-security-policy"), expected, "{path}");
        }
    }

    #[tokio::test]
    async fn model_files_answer_ranges_with_cors_on_either_origin() {
        let dir = temp_dir("models");
        let bytes: Vec<u8> = (0..=255u8).collect();
        std::fs::write(dir.join("net_part0.gguf.chunk"), &bytes).unwrap();
        let files = dir.clone();
        let origin = [
            ("origin", "http://localhost:9999"),
            ("range", "bytes=10-19"),
        ];

        let cross = get(model_router(&files, None), "/net_part0.gguf.chunk", &origin).await;
        assert_eq!(cross.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(header(&cross, "access-control-allow-origin"), "*");
        assert_eq!(header(&cross, "content-range"), "bytes 10-19/256");
        let body = axum::body::to_bytes(cross.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], &bytes[10..20]);

        let same = get(
            app_router(&temp_dir("dist2"), Some(&files), None),
            "/models/net_part0.gguf.chunk",
            &origin,
        )
        .await;
        assert_eq!(same.status(), StatusCode::PARTIAL_CONTENT);
    }

    fn hooked_models(name: &str) -> (PathBuf, Vec<u8>) {
        let dir = temp_dir(name);
        std::fs::create_dir_all(dir.join("smol")).unwrap();
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for f in ["net_part0.gguf.chunk", "net_part1.gguf.chunk"] {
            std::fs::write(dir.join("smol").join(f), &bytes).unwrap();
        }
        (dir, bytes)
    }

    async fn send(
        router: &Router,
        method: Method,
        path: &str,
        body: &str,
    ) -> axum::response::Response {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        router.clone().oneshot(req).await.unwrap()
    }

    async fn json(r: axum::response::Response) -> serde_json::Value {
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn test_hooks_count_model_requests_until_reset_on_either_origin() {
        let (files, _) = hooked_models("hooks-log");
        let hooks = TestHooks::default();
        let routers = [
            ("", model_router(&files, Some(&hooks))),
            (
                "/models",
                app_router(&temp_dir("hooks-dist"), Some(&files), Some(&hooks)),
            ),
        ];
        for (base, router) in routers {
            let chunk = format!("{base}/smol/net_part0.gguf.chunk");
            for _ in 0..2 {
                assert_eq!(
                    get(router.clone(), &chunk, &[]).await.status(),
                    StatusCode::OK
                );
            }
            let missing = get(router.clone(), &format!("{base}/smol/nope.json"), &[]).await;
            assert_eq!(missing.status(), StatusCode::NOT_FOUND);
            let log =
                json(get(router.clone(), &format!("{base}/__test/requests"), &[]).await).await;
            assert_eq!(
                log,
                serde_json::json!({"smol/net_part0.gguf.chunk": 2, "smol/nope.json": 1}),
                "{base}"
            );
            let reset = send(&router, Method::POST, &format!("{base}/__test/reset"), "").await;
            assert_eq!(reset.status(), StatusCode::NO_CONTENT);
            let log =
                json(get(router.clone(), &format!("{base}/__test/requests"), &[]).await).await;
            assert_eq!(log, serde_json::json!({}));
        }
    }

    #[tokio::test]
    async fn test_hooks_corrupt_or_cut_the_next_responses_only() {
        let (files, bytes) = hooked_models("hooks-faults");
        let router = model_router(&files, Some(&TestHooks::default()));
        let faults =
            r#"{"corrupt": {"net_part0.gguf.chunk": 2}, "cut": {"smol/net_part1.gguf.chunk": 1}}"#;
        let set = send(&router, Method::POST, "/__test/faults", faults).await;
        assert_eq!(set.status(), StatusCode::NO_CONTENT);

        for _ in 0..2 {
            let r = get(router.clone(), "/smol/net_part0.gguf.chunk", &[]).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "content-length"), "1000");
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            let differ: Vec<usize> = (0..1000).filter(|&i| body[i] != bytes[i]).collect();
            assert_eq!(differ, [500]);
        }
        let clean = get(router.clone(), "/smol/net_part0.gguf.chunk", &[]).await;
        let body = axum::body::to_bytes(clean.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&body[..], &bytes[..]);

        let cut = get(router.clone(), "/smol/net_part1.gguf.chunk", &[]).await;
        assert_eq!(cut.status(), StatusCode::OK);
        assert_eq!(header(&cut, "content-length"), "1000");
        let (got, failed) = crate::test_hooks::collect_until_error(cut.into_body()).await;
        assert!(failed, "a cut body ends in an error");
        assert_eq!(got, &bytes[..500]);
        let whole = get(router.clone(), "/smol/net_part1.gguf.chunk", &[]).await;
        let body = axum::body::to_bytes(whole.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&body[..], &bytes[..]);

        let bad = send(&router, Method::POST, "/__test/faults", r#"{"flip": {}}"#).await;
        assert!(bad.status().is_client_error());
    }

    #[tokio::test]
    async fn without_test_hooks_there_are_no_hook_endpoints() {
        let (files, _) = hooked_models("hooks-off");
        let r = get(model_router(&files, None), "/__test/requests", &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}

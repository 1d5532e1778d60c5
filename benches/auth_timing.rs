//! Does answering an unknown user take as long as a known user with a wrong password?
//! (Issue 13, item 11: the response time must not tell which users exist.)
//!
//! For three credentials files (uniform argon2id; argon2id mixed with bcrypt of several costs;
//! legacy-only) it times, through `BasicAuthLayer` in-process, unknown-user and
//! wrong-password requests in alternation, and prints each median and their ratio. The
//! wrong-password times are given per cost class of the file: the unknown-user dummy is of
//! the most common class, so that class must match within 10 %; the other classes of a mixed
//! file are the documented residual leak.
//!
//! ```text
//! cargo bench --bench auth_timing --all-features      # AUTH_TIMING_SAMPLES=41
//! ```

use std::convert::Infallible;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::{Request, Response};
use tollgate::auth::htpasswd::{Htpasswd, HtpasswdOptions};
use tollgate::auth::password::{cost_class, hash_password, hash_password_with, Params};
use tollgate::auth::BasicAuthLayer;
use tollgate::Body;
use tower::{Layer, Service, ServiceExt};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn apr1(user: &str, password: &str) -> String {
    let out = std::process::Command::new("htpasswd")
        .args(["-nbm", user, password])
        .output()
        .expect("htpasswd (apache2-utils) is installed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn bcrypt(user: &str, cost: u32) -> String {
    format!("{user}:{}", ::bcrypt::hash("pw", cost).unwrap())
}

fn argon2(user: &str, params: Option<Params>) -> String {
    match params {
        Some(p) => format!("{user}:{}", hash_password_with("pw", &p).unwrap()),
        None => format!("{user}:{}", hash_password("pw")),
    }
}

/// Times one request with these credentials through the layer.
async fn time<S>(svc: &mut S, user: &str, password: &str) -> Duration
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let req = Request::get("/")
        .header("authorization", basic(user, password))
        .body(Body::empty())
        .unwrap();
    let t = Instant::now();
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    let elapsed = t.elapsed();
    assert_eq!(res.status(), 401, "{user}");
    elapsed
}

async fn file(name: &str, lines: &[String], samples: usize) {
    let text = lines.join("\n");
    let options = HtpasswdOptions {
        allow_legacy_hashes: true,
        ..HtpasswdOptions::default()
    };
    let store = Htpasswd::parse(&text, &options).expect("the bench file loads");
    let app = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let mut svc = BasicAuthLayer::new("bench", store)
        .allow_legacy_hashes(true)
        .max_concurrent_verifications(1)
        .layer(app);
    // One user per class, in file order.
    let mut classes: Vec<(String, String, usize)> = Vec::new();
    for line in lines {
        let (user, hash) = line.split_once(':').unwrap();
        let class = cost_class(hash).unwrap();
        match classes.iter_mut().find(|(c, _, _)| *c == class) {
            Some((_, _, n)) => *n += 1,
            None => classes.push((class, user.to_owned(), 1)),
        }
    }
    // Warm up: the dummy hash is made on first use.
    time(&mut svc, "warm-up", "x").await;
    let mut unknown = Vec::with_capacity(samples);
    let mut wrong: Vec<Vec<Duration>> = vec![Vec::with_capacity(samples); classes.len()];
    // A new password every time: a (user, password) pair refused before is answered from the
    // layer's memory of refusals without a hash, and that path is timed apart below.
    for i in 0..samples {
        let password = format!("wrong{i}");
        unknown.push(time(&mut svc, &format!("nobody{i}"), &password).await);
        for (j, (_, user, _)) in classes.iter().enumerate() {
            wrong[j].push(time(&mut svc, user, &password).await);
        }
    }
    let unknown = median(unknown);
    println!("{name}: unknown user median {unknown:.2?}");
    for ((class, _, n), times) in classes.iter().zip(wrong) {
        let m = median(times);
        let ratio = unknown.as_secs_f64() / m.as_secs_f64();
        println!(
            "  wrong password, {class} ({n} users): median {m:.2?}, unknown/wrong = {ratio:.3}"
        );
    }
    // The same refused pair again: remembered for both kinds, so both are answered alike.
    let (known, known_user, _) = &classes[0];
    let (mut again_unknown, mut again_wrong) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        again_unknown.push(time(&mut svc, "nobody-again", "again").await);
        again_wrong.push(time(&mut svc, known_user, "again").await);
    }
    let (u, w) = (median(again_unknown), median(again_wrong));
    let ratio = u.as_secs_f64() / w.as_secs_f64();
    println!("  repeated refusal: unknown {u:.2?}, wrong password ({known}) {w:.2?}, unknown/wrong = {ratio:.3}");
}

fn main() {
    let samples: usize = std::env::var("AUTH_TIMING_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(41);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let strong = Params {
        memory_kib: 65536,
        iterations: 3,
        parallelism: 1,
    };
    rt.block_on(async {
        let uniform: Vec<String> = (0..6).map(|i| argon2(&format!("u{i}"), None)).collect();
        file(
            "uniform argon2id (6 users, OWASP defaults)",
            &uniform,
            samples,
        )
        .await;

        // An Apache bcrypt line first, as in the report, then mostly argon2id.
        let mixed = vec![
            bcrypt("b10a", 10),
            argon2("a1", None),
            argon2("a2", None),
            bcrypt("b10b", 10),
            argon2("a3", None),
            bcrypt("b8", 8),
            argon2("a4", None),
            argon2("strong", Some(strong)),
        ];
        file("mixed argon2id + bcrypt (8 users)", &mixed, samples).await;

        let legacy = vec![
            apr1("l1", "pw"),
            "l2:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=".to_owned(),
            apr1("l3", "pw"),
            apr1("l4", "pw"),
            "l5:{PLAIN}pw".to_owned(),
        ];
        file("legacy only (5 users)", &legacy, samples * 5).await;
    });
}

//! The admin console in a real browser: headless Chromium driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`, which `.ci/run`
//! installs), finding every control by its accessible name (a `label`'s
//! text, a button's or link's text) as SPEC §8 fixes them. One walk per
//! engine: sign-in both ways, search, create, role change, set-primary,
//! revoke a session, deactivate, the check, a CSRF-less POST refused,
//! sign-out, and a tenant user unable to see another tenant; every page
//! it visits is checked for WCAG AA text contrast.
//!
//! Without `chromedriver` on the machine the walk says so loudly and
//! skips, unless `ROSTER_TEST_BROWSER=required` (CI sets it). With
//! `ROSTER_CONSOLE_SCREENSHOTS=<dir>` the SQLite walk saves the README's
//! screenshots there.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::on_both_engines;
use crate::support::{id, Engine, TestApp, ADMIN};

on_both_engines!(the_console_walk_in_chromium, the_console_by_keyboard_alone);

/// `chromedriver`, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver_path() -> Option<String> {
    let configured = std::env::var("CHROMEDRIVER").ok();
    configured
        .into_iter()
        .chain(["/usr/bin/chromedriver".to_string()])
        .find(|p| std::path::Path::new(p).exists())
}

/// Starts chromedriver on a free port, or `None` (with a loud note) when
/// the machine has none and the browser is not required.
async fn driver() -> Option<Driver> {
    let Some(path) = chromedriver_path() else {
        let required = std::env::var("ROSTER_TEST_BROWSER").is_ok_and(|v| v == "required");
        assert!(
            !required,
            "ROSTER_TEST_BROWSER=required but no chromedriver: install Debian's chromium and chromium-driver (.ci/run does)"
        );
        eprintln!(
            "\n*** SKIPPED the console's browser walk: no chromedriver on this machine \
             (apt-get install chromium chromium-driver, or run .ci/run) ***\n"
        );
        return None;
    };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not answer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(Driver { child, url })
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--force-device-scale-factor=1"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// The control a `label` with this text names.
async fn field(client: &Client, label: &str) -> Element {
    let xpath = format!("//*[@id=//label[normalize-space(.)='{label}']/@for]");
    client
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no field labelled {label}: {e}"))
}

async fn fill(client: &Client, label: &str, text: &str) {
    let input = field(client, label).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn choose(client: &Client, label: &str, value: &str) {
    field(client, label)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("{label}: no option {value}: {e}"));
}

/// Does `act` and waits for the page it loads (every button and link of
/// the console loads a page): until the old page's root is gone and the
/// new one has loaded.
async fn and_wait(client: &Client, act: impl std::future::Future<Output = ()>) {
    let old = client.find(Locator::Css("html")).await.unwrap();
    act.await;
    let started = Instant::now();
    while old.tag_name().await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the page did not change"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    loop {
        let state = client.execute("return document.readyState;", vec![]).await;
        if matches!(state, Ok(Value::String(s)) if s == "complete") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the page did not load"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Clicks `element` and waits for the page it loads.
async fn click_and_wait(client: &Client, element: Element) {
    and_wait(client, async { element.click().await.unwrap() }).await;
}

/// Clicks the button with this name (its text or `aria-label`), within
/// the element `scope` finds when given.
async fn press(client: &Client, name: &str, scope: Option<&str>) {
    let xpath = format!(
        "{}//button[normalize-space(.)='{name}' or @aria-label='{name}']",
        scope.unwrap_or("")
    );
    let button = client
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no button {name}: {e}"));
    click_and_wait(client, button).await;
}

async fn follow(client: &Client, name: &str) {
    let xpath = format!("//a[normalize-space(.)='{name}']");
    let link = client
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no link {name}: {e}"));
    click_and_wait(client, link).await;
}

async fn text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn path(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Every piece of visible text on the page whose contrast with the
/// background behind it is under WCAG AA's minimum (4.5:1, 3:1 for large
/// text), computed from the browser's resolved colours the way axe's
/// `color-contrast` rule does (no axe: it is an npm download the tests
/// cannot make); the answer is a list of `tag "text" ratio` lines.
const CONTRAST_SCRIPT: &str = r#"
const rgba = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return [255, 255, 255, 1];
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(parseFloat); if (p.length < 4) p.push(1); return p; };
const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const behind = (el) => { for (; el; el = el.parentElement) { const c = rgba(getComputedStyle(el).backgroundColor);
  if (c[3] > 0) return c; } return [255, 255, 255, 1]; };
const low = [];
for (const el of document.querySelectorAll('body *')) {
  if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const s = getComputedStyle(el); const box = el.getBoundingClientRect();
  if (s.visibility === 'hidden' || box.width === 0 || box.right < 0) continue;
  const a = lum(rgba(s.color)), b = lum(behind(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
  const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need) low.push(`${el.tagName} "${el.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}`);
}
return low;
"#;

/// Fails when text on the page is under WCAG AA contrast.
async fn contrast(client: &Client, name: &str) {
    let low = client.execute(CONTRAST_SCRIPT, vec![]).await.unwrap();
    assert_eq!(low, json!([]), "text under WCAG AA contrast on {name}");
}

/// Checks the page's contrast, then saves a screenshot for the README when
/// asked to (SQLite walk only).
async fn looked_at(client: &Client, engine: Engine, name: &str) {
    contrast(client, name).await;
    screenshot(client, engine, name).await;
}

/// Saves a screenshot for the README when asked to (SQLite walk only).
async fn screenshot(client: &Client, engine: Engine, name: &str) {
    let Ok(dir) = std::env::var("ROSTER_CONSOLE_SCREENSHOTS") else {
        return;
    };
    if engine != Engine::Sqlite {
        return;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
}

async fn user_json(app: &TestApp, t: &str, user: &str) -> Value {
    app.get(&format!("/v1/tenants/{t}/users/{user}"), ADMIN)
        .await
        .expect(200)
}

async fn the_console_walk_in_chromium(engine: Engine) {
    let Some(driver) = driver().await else {
        return;
    };
    let app = TestApp::start(engine).await;
    let base = app.base.clone();
    let t = app.tenant("acme").await;
    let store = app.store(&t, "main").await;
    let beta = app.tenant("beta").await;
    app.user(&beta, json!({"email": "hidden@beta.example.com"}))
        .await;
    app.user(
        &t,
        json!({"email": "ops@acme.example.com", "first_name": "Olga", "last_name": "Ops",
               "password": "ops-password-1", "tenant_role": "ADMIN"}),
    )
    .await;
    let lee = id(&app
        .user(
            &t,
            json!({"email": "lee@acme.example.com", "first_name": "Lee", "last_name": "Cash",
                   "user_code": "1001", "password": "lee-password-1", "tenant_role": "ACCESS",
                   "store_ids": [store]}),
        )
        .await);
    // Lee signed in somewhere: a session to revoke.
    let signed_in = app
        .client
        .post(format!("{base}/rest/default/V1/integration/customer/token"))
        .header("x-tenant-id", &t)
        .json(&json!({"username": "lee@acme.example.com", "password": "lee-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    let lee_token: String = signed_in.json().await.unwrap();

    let client = browser(&driver).await;

    // Sign in as the operator.
    client.goto(&format!("{base}/console")).await.unwrap();
    assert_eq!(path(&client).await, "/console/sign-in");
    looked_at(&client, engine, "sign-in").await;
    fill(&client, "Admin token", "wrong").await;
    press(&client, "Sign in", Some("//form[@id='operator-sign-in']")).await;
    assert!(text(&client)
        .await
        .contains("The admin token is not correct."));
    contrast(&client, "the sign-in with its error").await;
    fill(&client, "Admin token", ADMIN).await;
    press(&client, "Sign in", Some("//form[@id='operator-sign-in']")).await;
    assert_eq!(path(&client).await, "/console/tenants");
    assert!(text(&client).await.contains("acme"));
    contrast(&client, "tenants").await;

    // Search.
    client
        .goto(&format!("{base}/console/t/{t}/users"))
        .await
        .unwrap();
    fill(&client, "Search users", "cash").await;
    press(&client, "Search", None).await;
    let found = text(&client).await;
    assert!(
        found.contains("lee@acme.example.com") && !found.contains("ops@acme.example.com"),
        "{found}"
    );
    fill(&client, "Search users", "").await;
    press(&client, "Search", None).await;
    looked_at(&client, engine, "users").await;

    // Create.
    follow(&client, "New user").await;
    fill(&client, "Email", "not-an-email").await;
    press(&client, "Create user", None).await;
    let refused = client
        .find(Locator::Css("#email-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!refused.is_empty());
    fill(&client, "Email", "sam@acme.example.com").await;
    fill(&client, "First name", "Sam").await;
    fill(&client, "Last name", "Stock").await;
    press(&client, "Create user", None).await;
    assert!(text(&client).await.contains("User created."));
    let sam = path(&client)
        .await
        .trim_start_matches(&format!("/console/t/{t}/users/"))
        .split('?')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(user_json(&app, &t, &sam).await["first_name"], "Sam");

    // Role change.
    choose(&client, "Tenant role", "BACKOFFICE").await;
    press(&client, "Change role", None).await;
    assert!(text(&client).await.contains("Tenant role changed."));
    assert_eq!(user_json(&app, &t, &sam).await["tenant_role"], "BACKOFFICE");

    // Contacts, then set-primary.
    for value in ["sam.work@acme.example.com", "sam.home@example.com"] {
        choose(&client, "Contact type", "EMAIL").await;
        fill(&client, "Contact value", value).await;
        press(&client, "Add contact", None).await;
        assert!(text(&client).await.contains("Contact added."));
    }
    press(&client, "Make sam.home@example.com primary", None).await;
    assert!(text(&client).await.contains("Primary contact changed."));
    let primaries = app
        .rows_as_text(&format!(
            "SELECT value FROM contacts WHERE user_id = '{sam}' AND is_primary = {}",
            if engine == Engine::Sqlite {
                "1"
            } else {
                "true"
            }
        ))
        .await;
    assert_eq!(primaries, vec!["sam.home@example.com".to_string()]);
    looked_at(&client, engine, "user").await;

    // A CSRF-less POST: the Deactivate form without its token is refused.
    client
        .execute(
            "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove());",
            vec![],
        )
        .await
        .unwrap();
    press(&client, "Deactivate", None).await;
    let page = text(&client).await;
    assert!(page.contains("Refused") && page.contains("CSRF"), "{page}");
    assert_eq!(user_json(&app, &t, &sam).await["status"], "ACTIVE");

    // Deactivate, for real.
    client
        .goto(&format!("{base}/console/t/{t}/users/{sam}"))
        .await
        .unwrap();
    press(&client, "Deactivate", None).await;
    assert!(text(&client).await.contains("Status changed."));
    assert_eq!(user_json(&app, &t, &sam).await["status"], "INACTIVE");

    // Revoke Lee's session.
    client
        .goto(&format!("{base}/console/t/{t}/users/{lee}"))
        .await
        .unwrap();
    let revoke = client
        .find(Locator::XPath("//button[normalize-space(.)='Revoke']"))
        .await
        .unwrap();
    click_and_wait(&client, revoke).await;
    assert!(text(&client).await.contains("Session revoked."));
    let after = app
        .client
        .get(format!("{base}/v1/tenants/{t}/users/{lee}"))
        .bearer_auth(&lee_token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 401);

    // The check.
    follow(&client, "Check").await;
    fill(&client, "User", "lee@acme.example.com").await;
    choose(&client, "Permission", "USE_POS").await;
    fill(&client, "Store id", &store).await;
    press(&client, "Check", Some("//main")).await;
    let answer = client
        .find(Locator::Css("#answer"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "allowed");
    assert!(text(&client)
        .await
        .contains("granted by tenant role ACCESS"));
    looked_at(&client, engine, "check").await;
    choose(&client, "Permission", "MANAGE_USERS").await;
    press(&client, "Check", Some("//main")).await;
    let answer = client
        .find(Locator::Css("#answer"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "denied");

    // The other pages read as well.
    for page in [
        "stores",
        "companies",
        "api-keys",
        "devices",
        "webhooks",
        "audit",
        "invitations",
    ] {
        client
            .goto(&format!("{base}/console/t/{t}/{page}"))
            .await
            .unwrap();
        assert!(!text(&client).await.is_empty());
        contrast(&client, page).await;
    }

    // At 375 px wide the users page still reads and works.
    client.set_window_size(375, 800).await.unwrap();
    client
        .goto(&format!("{base}/console/t/{t}/users"))
        .await
        .unwrap();
    fill(&client, "Search users", "lee").await;
    press(&client, "Search", None).await;
    assert!(text(&client).await.contains("lee@acme.example.com"));
    let width: Value = client
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_i64().unwrap() <= 375,
        "the page scrolls sideways: {width}"
    );
    looked_at(&client, engine, "users-375px").await;
    client.set_window_size(1280, 900).await.unwrap();

    // Sign out: the console is closed again.
    press(&client, "Sign out", None).await;
    assert_eq!(path(&client).await, "/console/sign-in");
    client
        .goto(&format!("{base}/console/tenants"))
        .await
        .unwrap();
    assert_eq!(path(&client).await, "/console/sign-in");

    // A tenant user signs in and cannot see another tenant.
    fill(&client, "Tenant", &t).await;
    fill(&client, "Email", "ops@acme.example.com").await;
    fill(&client, "Password", "ops-password-1").await;
    press(&client, "Sign in", Some("//form[@id='user-sign-in']")).await;
    assert_eq!(path(&client).await, format!("/console/t/{t}/users"));
    assert!(text(&client).await.contains("lee@acme.example.com"));
    client
        .goto(&format!("{base}/console/t/{beta}/users"))
        .await
        .unwrap();
    let page = text(&client).await;
    assert!(
        page.contains("not found") && !page.contains("hidden@beta.example.com"),
        "{page}"
    );
    press(&client, "Sign out", None).await;
    assert_eq!(path(&client).await, "/console/sign-in");

    client.close().await.unwrap();
}

/// Presses these keys, one after another, on whatever has the focus, as
/// a keyboard does (WebDriver key actions, not typing into an element).
async fn keys(client: &Client, pressed: &[char]) {
    let mut keyboard = KeyActions::new("keyboard".into());
    for key in pressed {
        keyboard = keyboard
            .then(KeyAction::Down { value: *key })
            .then(KeyAction::Up { value: *key });
    }
    client.perform_actions(keyboard).await.unwrap();
}

async fn type_text(client: &Client, text: &str) {
    keys(client, &text.chars().collect::<Vec<_>>()).await;
}

/// Shift+Tab.
async fn back_tab(client: &Client) {
    let (shift, tab) = (char::from(Key::Shift), char::from(Key::Tab));
    let keyboard = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: shift })
        .then(KeyAction::Down { value: tab })
        .then(KeyAction::Up { value: tab })
        .then(KeyAction::Up { value: shift });
    client.perform_actions(keyboard).await.unwrap();
}

/// Ctrl+A: selects all of the focused field, so typing replaces it.
async fn select_all(client: &Client) {
    let control = char::from(Key::Control);
    let keyboard = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: control })
        .then(KeyAction::Down { value: 'a' })
        .then(KeyAction::Up { value: 'a' })
        .then(KeyAction::Up { value: control });
    client.perform_actions(keyboard).await.unwrap();
}

/// The value of the focused field.
async fn focused_value(client: &Client) -> Value {
    client
        .execute("return document.activeElement.value;", vec![])
        .await
        .unwrap()
}

/// What has the focus: its accessible name (a control's label, else its
/// `aria-label`, else its text), its id, whether a focus indicator is
/// drawn (an outline of some width), and its role.
const FOCUSED_SCRIPT: &str = r#"
const el = document.activeElement;
const label = el.labels && el.labels.length ? el.labels[0].textContent : null;
const name = (label || el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\s+/g, ' ');
const s = getComputedStyle(el);
const outlined = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
const box = el.getBoundingClientRect();
return { name, id: el.id, outlined, role: el.getAttribute('role') || '', on_screen: box.right > 0 && box.bottom > 0 };
"#;

async fn focused(client: &Client) -> Value {
    client.execute(FOCUSED_SCRIPT, vec![]).await.unwrap()
}

/// Tabs forwards (or backwards) until the control named `name` has the
/// focus, checking every control on the way shows where the focus is;
/// fails when it is not reached within `most` presses.
async fn tab_to(client: &Client, name: &str, forwards: bool) {
    let most = 80;
    for _ in 0..most {
        if forwards {
            keys(client, &[char::from(Key::Tab)]).await;
        } else {
            back_tab(client).await;
        }
        let now = focused(client).await;
        assert_eq!(now["outlined"], true, "no visible focus on {now}");
        assert_eq!(now["on_screen"], true, "the focus is off screen: {now}");
        if now["name"] == name {
            return;
        }
    }
    panic!("{name} is not reached with {most} presses of Tab");
}

/// Waits for the focus to land where `expected` says (autofocus runs just
/// after the page loads).
async fn focus_lands(client: &Client, expected: impl Fn(&Value) -> bool, what: &str) {
    let started = Instant::now();
    loop {
        let now = focused(client).await;
        if expected(&now) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the focus is not on {what}: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The console with the keyboard alone: the skip link, sign-in, a
/// tenant, the users search, a user, a role change, a refused contact
/// and a good one, deactivation with Space, sign-out; after each
/// submission the focus lands on its outcome.
async fn the_console_by_keyboard_alone(engine: Engine) {
    let Some(driver) = driver().await else {
        return;
    };
    let app = TestApp::start(engine).await;
    let base = app.base.clone();
    let t = app.tenant("acme").await;
    app.user(
        &t,
        json!({"email": "ops@acme.example.com", "first_name": "Olga", "last_name": "Ops"}),
    )
    .await;
    let lee = id(&app
        .user(
            &t,
            json!({"email": "lee@acme.example.com", "first_name": "Lee", "last_name": "Cash",
                   "tenant_role": "ACCESS"}),
        )
        .await);
    let (enter, space) = (char::from(Key::Enter), char::from(Key::Space));
    let client = browser(&driver).await;
    client
        .goto(&format!("{base}/console/sign-in"))
        .await
        .unwrap();

    // The first Tab reaches the skip link, shown while focused; Enter
    // moves the focus into the page's main part.
    keys(&client, &[char::from(Key::Tab)]).await;
    let skip = focused(&client).await;
    assert_eq!(skip["name"], "Skip to content", "{skip}");
    assert_eq!(skip["on_screen"], true, "{skip}");
    keys(&client, &[enter]).await;
    focus_lands(&client, |f| f["id"] == "main", "the main part").await;

    // Sign in: the admin token, then Enter.
    tab_to(&client, "Admin token", true).await;
    type_text(&client, ADMIN).await;
    and_wait(&client, keys(&client, &[enter])).await;
    assert_eq!(path(&client).await, "/console/tenants");

    // A tenant, the users search, a user.
    tab_to(&client, &t, true).await;
    and_wait(&client, keys(&client, &[enter])).await;
    assert_eq!(path(&client).await, format!("/console/t/{t}/users"));
    tab_to(&client, "Search users", true).await;
    type_text(&client, "cash").await;
    and_wait(&client, keys(&client, &[enter])).await;
    let found = text(&client).await;
    assert!(
        found.contains("lee@acme.example.com") && !found.contains("ops@acme.example.com"),
        "{found}"
    );
    tab_to(&client, "Lee Cash", true).await;
    and_wait(&client, keys(&client, &[enter])).await;
    assert_eq!(path(&client).await, format!("/console/t/{t}/users/{lee}"));

    // The tenant role by typing the start of its name on the list, then the
    // button with Enter: the focus lands on the notice.
    tab_to(&client, "Tenant role", true).await;
    type_text(&client, "BAC").await;
    tab_to(&client, "Change role", true).await;
    and_wait(&client, keys(&client, &[enter])).await;
    focus_lands(
        &client,
        |f| f["role"] == "status" && f["name"] == "Tenant role changed.",
        "the notice",
    )
    .await;
    assert_eq!(user_json(&app, &t, &lee).await["tenant_role"], "BACKOFFICE");

    // A refused contact: the focus lands on the field, which says why.
    tab_to(&client, "Contact value", true).await;
    type_text(&client, "not-an-email").await;
    and_wait(&client, keys(&client, &[enter])).await;
    focus_lands(&client, |f| f["id"] == "contact-value", "the refused field").await;
    let refused = client
        .find(Locator::Css("#contact-value-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!refused.is_empty());
    let kept = focused_value(&client).await;
    assert_eq!(kept, "not-an-email", "what was typed is kept");
    select_all(&client).await;
    type_text(&client, "lee.home@example.com").await;
    and_wait(&client, keys(&client, &[enter])).await;
    focus_lands(&client, |f| f["name"] == "Contact added.", "the notice").await;

    // Deactivate with Space.
    tab_to(&client, "Deactivate", true).await;
    and_wait(&client, keys(&client, &[space])).await;
    focus_lands(&client, |f| f["name"] == "Status changed.", "the notice").await;
    assert_eq!(user_json(&app, &t, &lee).await["status"], "INACTIVE");

    // Back up to the header's Sign out, and out.
    tab_to(&client, "Sign out", false).await;
    and_wait(&client, keys(&client, &[enter])).await;
    assert_eq!(path(&client).await, "/console/sign-in");

    client.close().await.unwrap();
}

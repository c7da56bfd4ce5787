//! Console users and sessions over plain HTTP, for the console tests: an argon2 hash from
//! `leadrouter console-hash`, a login that returns the session cookie, and a page's CSRF
//! token.

use leadrouter_testsupport::{Resp, Server};

/// An argon2 hash of `password` from `leadrouter console-hash`.
pub fn console_hash(password: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(super::binary())
        .arg("console-hash")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("leadrouter console-hash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(password.as_bytes())
        .expect("writing the password");
    let out = child.wait_with_output().expect("console-hash output");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// A form body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `name=value` of the cookie `name` a response sets.
pub fn set_cookie(r: &Resp<'_>, name: &str) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| r.fail(&format!("no {name} cookie")))
        .to_string()
}

/// The value of the first hidden `csrf` field on a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// Log in to the console; the session cookie (`lr_console=…`).
pub async fn login(server: &Server, user: &str, password: &str) -> String {
    let page = server
        .get("/console/login")
        .send_async()
        .await
        .expect_status(200);
    let login_cookie = set_cookie(&page, "lr_console_login");
    let r = server
        .post("/console/login")
        .header("cookie", &login_cookie)
        .body(
            "application/x-www-form-urlencoded",
            form(&[
                ("username", user),
                ("password", password),
                ("csrf", &csrf_of(&page.text)),
            ]),
        )
        .send_async()
        .await
        .expect_status(303);
    set_cookie(&r, "lr_console")
}

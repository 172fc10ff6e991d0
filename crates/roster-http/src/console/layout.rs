//! The page shell, the navigation and form fields with their errors.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};
use roster_app::AppError;

use super::Signed;
use crate::error::ApiError;

/// The navigation of a signed-in page.
pub(crate) struct Nav<'a> {
    tenant: Option<&'a str>,
    operator: bool,
    current: &'a str,
    csrf: &'a str,
}

impl<'a> Nav<'a> {
    pub(crate) fn new(signed: &'a Signed, tenant: Option<&'a str>, current: &'a str) -> Nav<'a> {
        Nav {
            tenant,
            operator: signed.operator(),
            current,
            csrf: &signed.csrf,
        }
    }
}

/// The tenant pages, by the names SPEC §8 fixes (and Devices).
const TENANT_PAGES: &[(&str, &str)] = &[
    ("users", "Users"),
    ("stores", "Stores"),
    ("companies", "Companies"),
    ("api-keys", "API keys"),
    ("devices", "Devices"),
    ("webhooks", "Webhooks"),
    ("audit", "Audit log"),
    ("check", "Check"),
];

/// A whole page.
pub(crate) fn page(title: &str, nav: Option<&Nav>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Roster console" }
                link rel="stylesheet" href="/console/style.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Roster console" }
                    @if let Some(nav) = nav {
                        nav aria-label="Console" {
                            ul {
                                @if nav.operator {
                                    li { (link("/console/tenants", "Tenants", nav.current == "tenants")) }
                                }
                                @if let Some(tenant) = nav.tenant {
                                    @for (slug, name) in TENANT_PAGES {
                                        li { (link(&format!("/console/t/{tenant}/{slug}"), name, nav.current == *slug)) }
                                    }
                                }
                            }
                        }
                        @if let Some(tenant) = nav.tenant {
                            span.muted { "Tenant " code { (tenant) } }
                        }
                        form.inline method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(nav.csrf);
                            button.secondary type="submit" { "Sign out" }
                        }
                    }
                }
                // Focusable from the skip link, so keyboard users land in it.
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

fn link(href: &str, name: &str, current: bool) -> Markup {
    html! {
        @if current { a href=(href) aria-current="page" { (name) } }
        @else { a href=(href) { (name) } }
    }
}

/// What a form just did, focused when the page loads: after a keyboard
/// submission the focus lands on the outcome, not at the top of the page.
/// (Browsers focus the first `autofocus` element, so a refused field
/// earlier on the page wins.)
pub(crate) fn notice(body: Markup) -> Markup {
    html! { div.notice role="status" tabindex="-1" autofocus { (body) } }
}

/// Why something was refused, focused when the page loads as
/// [`notice`] is.
pub(crate) fn problem(body: Markup) -> Markup {
    html! { p.problem role="alert" tabindex="-1" autofocus { (body) } }
}

/// A labelled input with its error, if any.
pub(crate) fn field(
    id: &str,
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    error: Option<&str>,
) -> Markup {
    let error_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            @if let Some(error) = error {
                // The first refused field of a page takes the focus.
                input id=(id) name=(name) type=(kind) value=(value) aria-invalid="true" aria-describedby=(error_id) autofocus;
                p.error id=(error_id) { (error) }
            } @else {
                input id=(id) name=(name) type=(kind) value=(value);
            }
        }
    }
}

/// A labelled select; `options` are (value, text).
pub(crate) fn select(
    id: &str,
    label: &str,
    name: &str,
    options: &[(String, String)],
    selected: &str,
    error: Option<&str>,
) -> Markup {
    let error_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())] autofocus[error.is_some()] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
            @if let Some(error) = error { p.error id=(error_id) { (error) } }
        }
    }
}

/// What a form's submission got wrong: messages by field, and one for the
/// form as a whole; with the status to answer.
#[derive(Debug)]
pub(crate) struct Errors {
    fields: Vec<(String, String)>,
    general: Option<String>,
    pub status: StatusCode,
}

impl Default for Errors {
    fn default() -> Self {
        Errors {
            fields: Vec::new(),
            general: None,
            status: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl Errors {
    pub(crate) fn field(name: &str, message: &str) -> Errors {
        let mut errors = Errors::default();
        errors.push(name, message);
        errors
    }

    pub(crate) fn push(&mut self, name: &str, message: &str) {
        self.fields.push((name.to_string(), message.to_string()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }

    /// The page's status: `ok` without errors, else the errors'.
    pub(crate) fn status_or(&self, ok: StatusCode) -> StatusCode {
        if self.is_empty() {
            ok
        } else {
            self.status
        }
    }

    /// An error of the application: field errors by field; anything else
    /// beside `field_for_other` (the field it concerns) when given.
    pub(crate) fn from_app(error: AppError, field_for_other: &str) -> Errors {
        Self::from_api(ApiError::from(error), field_for_other)
    }

    pub(crate) fn from_api(error: ApiError, field_for_other: &str) -> Errors {
        if let ApiError::Internal(detail) = &error {
            tracing::error!(trace_id = %crate::error::trace_id(), error = %detail, "internal error");
        }
        let status = error.status();
        let problem = error.problem();
        let mut errors = Errors {
            status,
            ..Errors::default()
        };
        match problem.errors.filter(|by_field| !by_field.is_empty()) {
            Some(by_field) => {
                for (field, messages) in &by_field {
                    errors.push(field, &sentence(&messages.join("; ")));
                }
            }
            None if field_for_other.is_empty() => errors.general = Some(problem.detail),
            None => errors.push(field_for_other, &sentence(&problem.detail)),
        }
        errors
    }

    /// The message of `name`, if any.
    pub(crate) fn of(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, message)| message.as_str())
    }

    /// [`Self::of`] when `this_form` is the form that was sent.
    pub(crate) fn of_form(&self, this_form: bool, name: &str) -> Option<&str> {
        this_form.then(|| self.of(name)).flatten()
    }

    /// The form-wide message, and every field message no field shows.
    pub(crate) fn general(&self) -> Markup {
        html! {
            @if let Some(general) = &self.general {
                (problem(html! { (sentence(general)) }))
            }
        }
    }

    /// Field messages for fields the form does not show, as one alert.
    pub(crate) fn others(&self, shown: &[&str]) -> Markup {
        let others: Vec<&(String, String)> = self
            .fields
            .iter()
            .filter(|(f, _)| !shown.contains(&f.as_str()))
            .collect();
        html! {
            (self.general())
            @if !others.is_empty() {
                ul.problem role="alert" tabindex="-1" autofocus {
                    @for (field, message) in others { li { code { (field) } ": " (message) } }
                }
            }
        }
    }
}

/// A message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

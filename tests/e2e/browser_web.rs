//! The web interface in a real headless Chromium against the real server over HTTPS: the
//! practitioner's daily tasks, a patient's one-time link, a lab's drop folder, revocation from
//! All shares, the dashboard's sort, filters, search and expiry colours, and the French and
//! German pages. Each main page is saved as a screenshot under `target/screenshots/`.

use std::time::Duration;

use casevault_tests::browser::Browser;
use casevault_tests::{Practice, TestUser, USER_PASSWORD, expect_json, id_of, pseudo_random};
use reqwest::Method;
use serde_json::{Value, json};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A browser signed in as `user`, on their case list.
async fn signed_in(practice: &Practice, user: &TestUser, lang: &str) -> Option<Browser> {
    let browser = Browser::launch(lang).await?;
    browser.goto(&practice.app.url("/login")).await;
    browser.fill("#email", &user.email).await;
    browser.fill("#password", USER_PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#cases-table").await;
    Some(browser)
}

/// Lets the page's `confirm()` questions be answered yes (WebDriver would dismiss them).
async fn accept_confirmations(browser: &Browser) {
    browser
        .eval("window.confirm = () => true; return true;", vec![])
        .await;
}

async fn share(practice: &Practice, owner: &TestUser, form: Value) -> Value {
    expect_json(
        practice
            .send(owner, Method::POST, "/api/v1/grants", Some(form))
            .await,
        201,
    )
    .await
}

/// The text of the section a recipient's page shows now.
async fn visible_heading(browser: &Browser) -> String {
    browser
        .eval(
            "return document.querySelector('main > section:not([hidden]) h1')?.textContent ?? '';",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn wait_heading(browser: &Browser, contains: &str) {
    for _ in 0..150 {
        if visible_heading(browser).await.contains(contains) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the page never showed {contains:?}; it shows {:?}",
        visible_heading(browser).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_owner_uploads_and_a_patient_downloads_once() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-browser").await;
    let Some(owner) = signed_in(&practice, &dr, "en").await else {
        return;
    };
    owner.screenshot("dashboard-empty").await;

    // A new case.
    owner.click("#new-case").await;
    owner.fill("#case-patient", "PAT-2026-117").await;
    owner.fill("#case-number", "C-0117").await;
    owner.click("#case-form button[type=submit]").await;
    owner.wait_text("#case-heading", "PAT-2026-117").await;

    // Two files, each with its progress reaching 100%.
    let dir = tempfile::tempdir().expect("a temp dir");
    let scan = pseudo_random(7, 3 * 1024 * 1024 + 17);
    let report = b"%PDF-1.4\n% a short report\n".to_vec();
    std::fs::write(dir.path().join("upper jaw.stl"), &scan).expect("write");
    std::fs::write(dir.path().join("report.pdf"), &report).expect("write");
    owner
        .attach(
            "#upload-input",
            &[
                &dir.path().join("upper jaw.stl"),
                &dir.path().join("report.pdf"),
            ],
        )
        .await;
    owner
        .wait_text("#upload-list li:nth-child(1) .upload-status", "100%")
        .await;
    owner
        .wait_text("#upload-list li:nth-child(2) .upload-status", "100%")
        .await;
    owner.wait_text("#documents tbody", "upper jaw.stl").await;
    owner.wait_text("#documents tbody", "report.pdf").await;
    owner.screenshot("case-documents").await;

    // A one-time link for the patient; the password is generated and shown once.
    owner.click("#case-share").await;
    owner.wait_for("#share-form").await;
    let limit = owner
        .eval(
            "return document.getElementById('share-limit').value;",
            vec![],
        )
        .await;
    assert_eq!(limit, "1", "one-time is preselected for patients");
    let expiry = owner
        .eval(
            "return document.getElementById('share-expiry').value;",
            vec![],
        )
        .await;
    assert!(
        expiry.as_str().is_some_and(|d| d.len() == 10),
        "an expiry is preselected: {expiry}"
    );
    owner.screenshot("share-dialog").await;
    owner.click("#share-form button[type=submit]").await;
    owner.wait_for("#share-secret").await;
    let link = owner
        .eval(
            "return document.getElementById('share-link-out').value;",
            vec![],
        )
        .await;
    let password = owner
        .eval(
            "return document.getElementById('share-password-out').value;",
            vec![],
        )
        .await;
    let (link, password) = (
        link.as_str().expect("a link").to_owned(),
        password.as_str().expect("a password").to_owned(),
    );
    assert!(link.starts_with(&practice.app.url("/s/")), "{link}");
    assert!(password.len() >= 16, "a generated password: {password}");
    owner.screenshot("share-created").await;

    // A fresh browser: the patient.
    let patient = Browser::launch("en").await.expect("a second browser");
    patient.goto(&link).await;
    patient.wait_for("#link-password-input").await;
    patient.screenshot("link-password").await;
    patient
        .fill("#link-password-input", "not the password")
        .await;
    patient
        .click("#link-password-form button[type=submit]")
        .await;
    patient
        .wait_text("#link-password .error", "not right")
        .await;
    patient.fill("#link-password-input", &password).await;
    patient
        .click("#link-password-form button[type=submit]")
        .await;
    patient
        .wait_text("#link-files tbody", "upper jaw.stl")
        .await;
    patient.screenshot("link-download").await;
    // The rows are sorted by name: report.pdf comes first.
    patient
        .click("#link-files tbody tr:first-child a.download")
        .await;
    let path = patient.wait_download("report.pdf").await;
    assert_eq!(std::fs::read(&path).expect("the download"), report);

    // Used up: the link now says so.
    patient.goto(&link).await;
    wait_heading(&patient, "no longer available").await;
    patient.screenshot("link-used-up").await;

    // The owner's history shows the download through the link, from where.
    owner.click("[data-close].primary").await;
    owner.click("#tab-history").await;
    owner
        .wait_text("#history", "File downloaded through a share")
        .await;
    owner.screenshot("case-history").await;
    patient.close().await;
    owner.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_lab_drops_a_folder_without_seeing_the_case() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-drop").await;
    let case = practice.new_case(&dr).await;
    practice
        .upload(&dr, &case, "private-xray.dcm", b"DICM existing")
        .await;
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "role": "drop", "password": "lab-password-2026", "note": "Crown for 36, please" }),
    )
    .await;
    let link = created["link"].as_str().expect("a link").to_owned();

    let Some(lab) = Browser::launch("en").await else {
        return;
    };
    lab.goto(&link).await;
    lab.fill("#link-password-input", "lab-password-2026").await;
    lab.click("#link-password-form button[type=submit]").await;
    lab.wait_for("#drop-form").await;
    lab.wait_text("#drop-note", "Crown for 36").await;
    let page = lab.eval("return document.body.innerText;", vec![]).await;
    assert!(
        !page.as_str().expect("text").contains("private-xray"),
        "the drop page shows nothing of the case"
    );

    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path().join("lab-order-36");
    std::fs::create_dir_all(root.join("scans")).expect("mkdir");
    std::fs::write(root.join("design.ply"), b"ply\nformat ascii 1.0\n").expect("write");
    std::fs::write(
        root.join("scans").join("prep.stl"),
        pseudo_random(3, 70_000),
    )
    .expect("write");
    lab.fill("#drop-name", "Dental Lab Meyer").await;
    lab.fill("#drop-email", "lab@example.net").await;
    lab.attach_dir("#drop-folder", &root).await;
    lab.wait_text("#drop-list", "scans/prep.stl").await;
    lab.screenshot("drop-page").await;
    lab.click("#drop-send").await;
    lab.wait_for("#link-receipt").await;
    lab.wait_text("#receipt-files", "prep.stl").await;
    lab.wait_text("#receipt-files", "design.ply").await;
    lab.screenshot("drop-receipt").await;
    let overall = lab
        .eval(
            "return document.getElementById('drop-overall').value;",
            vec![],
        )
        .await;
    assert_eq!(
        overall.as_f64(),
        Some(1.0),
        "overall progress reached the end"
    );
    lab.close().await;

    // The owner finds the folder structure, files and uploader.
    let tree = practice.tree(&dr, &case).await;
    let folders: Vec<&str> = tree["folders"]
        .as_array()
        .expect("folders")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert!(
        folders.contains(&"lab-order-36") && folders.contains(&"scans"),
        "{folders:?}"
    );
    let names: Vec<&str> = tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    for name in ["private-xray.dcm", "design.ply", "prep.stl"] {
        assert!(names.contains(&name), "{names:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_revoking_from_all_shares_stops_the_recipient() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-revoke").await;
    let case = practice
        .create_case(&dr, json!({ "patient_ref": "PAT-REVOKE", "title": "R-1" }))
        .await;
    let case = id_of(&case);
    practice
        .upload(&dr, &case, "plan.pdf", b"%PDF-1.4 plan")
        .await;
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "role": "read", "no_password": true, "recipient_email": "colleague@example.net" }),
    )
    .await;
    let link = created["link"].as_str().expect("a link").to_owned();

    let Some(recipient) = Browser::launch("en").await else {
        return;
    };
    recipient.goto(&link).await;
    recipient.wait_text("#link-files tbody", "plan.pdf").await;

    let owner = signed_in(&practice, &dr, "en").await.expect("a browser");
    owner.goto(&practice.app.url("/shares")).await;
    owner
        .wait_text("#shares-table tbody", "colleague@example.net")
        .await;
    owner.wait_text("#shares-table tbody", "PAT-REVOKE").await;
    owner.screenshot("all-shares").await;
    accept_confirmations(&owner).await;
    owner
        .click("#shares-table tbody tr .row-actions button.danger")
        .await;
    owner
        .wait_text("#shares-table tbody [data-status]", "Revoked")
        .await;

    // The recipient's next click explains that the link is gone.
    recipient.click("#link-files a.download").await;
    wait_heading(&recipient, "no longer available").await;
    let files = std::fs::read_dir(recipient.downloads())
        .expect("downloads")
        .count();
    assert_eq!(files, 0, "nothing was downloaded after the revocation");
    recipient.close().await;
    owner.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_dashboard_sorts_filters_searches_and_colours_expiry() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-dashboard").await;
    let now = casevault_storage::Timestamp::now().0;
    let cases = [
        ("PAT-A", "C-3", Some(now + 400 * DAY_MS)),
        ("PAT-B", "C-1", Some(now + 120 * DAY_MS)),
        ("PAT-C", "C-2", Some(now + 10 * DAY_MS)),
        ("PAT-D", "C-4", Some(now - 5 * DAY_MS)),
        ("PAT-E", "C-5", None),
    ];
    for (patient, number, expiry) in cases {
        practice
            .create_case(
                &dr,
                json!({ "patient_ref": patient, "title": number, "expires_at": expiry }),
            )
            .await;
    }
    let labels = json!({ "labels": [{ "id": 3, "name": "Implant", "colour": "#00aa55" }] });
    let response = practice
        .send(&dr, Method::PATCH, "/api/v1/preferences", Some(labels))
        .await;
    expect_json(response, 200).await;
    let archived = practice
        .create_case(
            &dr,
            json!({ "patient_ref": "PAT-ARCH", "title": "C-9", "labels": [3] }),
        )
        .await;
    let archived = id_of(&archived);
    let response = practice
        .send(
            &dr,
            Method::PATCH,
            &format!("/api/v1/cases/{archived}"),
            Some(json!({ "status": "archived" })),
        )
        .await;
    expect_json(response, 200).await;

    let Some(browser) = signed_in(&practice, &dr, "en").await else {
        return;
    };
    browser.wait_text("#cases-table tbody", "PAT-ARCH").await;
    let patients = || async { browser.texts("#cases-table tbody td.patient").await };
    assert_eq!(patients().await.len(), 6);

    // Expiry: normal beyond 6 months, bold within 3–6, red "expires soon" within 3, grey once past.
    let class_of = |patient: &str| {
        format!(
            "return Array.from(document.querySelectorAll('#cases-table tbody tr')).find(r => r.querySelector('td.patient').textContent === '{patient}').querySelector('td.expiry').className;"
        )
    };
    assert_eq!(browser.eval(&class_of("PAT-A"), vec![]).await, "expiry");
    assert_eq!(
        browser.eval(&class_of("PAT-B"), vec![]).await,
        "expiry expiry-later"
    );
    assert_eq!(
        browser.eval(&class_of("PAT-C"), vec![]).await,
        "expiry expiry-soon"
    );
    assert_eq!(
        browser.eval(&class_of("PAT-D"), vec![]).await,
        "expiry expiry-expired"
    );
    browser
        .wait_text("#cases-table tbody td.expiry-soon", "expires soon")
        .await;
    let colour = browser
        .eval(
            "return getComputedStyle(document.querySelector('td.expiry-soon')).color;",
            vec![],
        )
        .await;
    assert_eq!(colour, "rgb(179, 38, 30)", "expiring soon is red");
    // Labels show with the owner's name and colour (set through the CSSOM, which the CSP allows).
    browser
        .wait_text("#cases-table tbody .label-chip", "Implant")
        .await;
    let chip = browser
        .eval(
            "return getComputedStyle(document.querySelector('.label-chip')).backgroundColor;",
            vec![],
        )
        .await;
    assert_eq!(chip, "rgb(0, 170, 85)");
    browser.screenshot("dashboard").await;

    // Quick categories with their counts.
    assert_eq!(browser.text("[data-count=action]").await, "(2)");
    assert_eq!(browser.text("[data-count=progress]").await, "(5)");
    assert_eq!(browser.text("[data-count=archive]").await, "(1)");
    browser.click("[data-category=action]").await;
    let mut shown = patients().await;
    shown.sort();
    assert_eq!(shown, ["PAT-C", "PAT-D"]);
    browser.click("[data-category=archive]").await;
    assert_eq!(patients().await, ["PAT-ARCH"]);
    browser.click("[data-category=all]").await;

    // Sort by case number, both ways.
    browser.click("th[data-sort=number] button").await;
    assert_eq!(
        browser.texts("#cases-table tbody td.case-number").await,
        ["C-1", "C-2", "C-3", "C-4", "C-5", "C-9"]
    );
    browser.click("th[data-sort=number] button").await;
    assert_eq!(
        browser.texts("#cases-table tbody td.case-number").await,
        ["C-9", "C-5", "C-4", "C-3", "C-2", "C-1"]
    );
    let sorted = browser
        .eval(
            "return document.querySelector('th[data-sort=number]').getAttribute('aria-sort');",
            vec![],
        )
        .await;
    assert_eq!(sorted, "descending");

    // Search by case number or patient reference; status filter.
    browser.fill("#case-search", "c-2").await;
    assert_eq!(patients().await, ["PAT-C"]);
    browser.fill("#case-search", "pat-e").await;
    assert_eq!(patients().await, ["PAT-E"]);
    browser.fill("#case-search", "").await;
    browser
        .eval("const s = document.getElementById('status-filter'); s.value = 'archived'; s.dispatchEvent(new Event('change')); return true;", vec![])
        .await;
    assert_eq!(patients().await, ["PAT-ARCH"]);

    // On a tablet in portrait the page does not scroll sideways (wide tables scroll inside).
    browser
        .client()
        .set_window_size(820, 1180)
        .await
        .expect("resize the window");
    browser
        .eval("const s = document.getElementById('status-filter'); s.value = ''; s.dispatchEvent(new Event('change')); return true;", vec![])
        .await;
    let overflow = browser
        .eval(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await;
    assert!(
        overflow.as_i64().is_some_and(|o| o <= 0),
        "horizontal overflow {overflow}"
    );
    browser.screenshot("dashboard-tablet").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_pages_render_in_french_and_german_and_escape_names() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-langs").await;
    let case = practice
        .create_case(
            &dr,
            json!({ "patient_ref": "<img src=x onerror=alert(1)>", "title": "L-1" }),
        )
        .await;
    let case = id_of(&case);
    practice
        .upload(
            &dr,
            &case,
            "<svg onload=alert(1)>.png",
            b"\x89PNG\r\n\x1a\nnot really",
        )
        .await;

    let Some(french) = signed_in(&practice, &dr, "fr").await else {
        return;
    };
    french.wait_text("h1", "Dossiers").await;
    french
        .wait_text("#cases-table tbody", "<img src=x onerror=alert(1)>")
        .await;
    french.screenshot("dashboard-fr").await;
    french
        .goto(&practice.app.url(&format!("/cases/{case}")))
        .await;
    french
        .wait_text("#documents tbody", "<svg onload=alert(1)>.png")
        .await;
    let injected = french
        .eval(
            "return document.querySelectorAll('svg[onload], img[onerror]').length;",
            vec![],
        )
        .await;
    assert_eq!(injected, 0, "user strings show as text, never as markup");
    french.wait_text("#tab-documents", "Documents").await;
    french.screenshot("case-fr").await;
    french.close().await;

    let german = signed_in(&practice, &dr, "de").await.expect("a browser");
    german.wait_text("h1", "Fälle").await;
    german.screenshot("dashboard-de").await;
    german.goto(&practice.app.url("/account")).await;
    german.wait_text("#quota-text", "belegt").await;
    german.screenshot("account-de").await;
    // The switch changes the language and remembers it.
    german.click(".langs a[lang=en]").await;
    german.wait_text("h1", "Account").await;
    german.goto(&practice.app.url("/shares")).await;
    german.wait_text("h1", "All shares").await;
    german.close().await;

    // The recipient pages in German, for an unknown link.
    let visitor = Browser::launch("de").await.expect("a browser");
    visitor
        .goto(
            &practice
                .app
                .url("/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    wait_heading(&visitor, "nicht mehr verfügbar").await;
    visitor.screenshot("link-unavailable-de").await;
    visitor.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_a_colleague_sees_only_what_their_share_allows() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-owner").await;
    let colleague = practice.user("dr-colleague").await;
    let case = practice
        .create_case(&dr, json!({ "patient_ref": "PAT-SHARED", "title": "S-1" }))
        .await;
    let case = id_of(&case);
    practice
        .upload(&dr, &case, "ceph.png", b"\x89PNG\r\n\x1a\nceph")
        .await;
    share(
        &practice,
        &dr,
        json!({ "case": case, "role": "read", "colleague": colleague.email }),
    )
    .await;

    let Some(browser) = signed_in(&practice, &colleague, "en").await else {
        return;
    };
    browser.wait_text("#shared-with-me", "PAT-SHARED").await;
    browser.click("#shared-with-me a").await;
    browser.wait_text("#documents tbody", "ceph.png").await;
    for hidden in [
        "#case-share",
        "#case-edit",
        "#tab-history",
        "#tab-shares",
        "#new-folder",
        "#drop-zone",
    ] {
        browser.wait_gone(hidden).await;
    }
    let buttons = browser.texts("#documents tbody .row-actions > *").await;
    assert!(
        buttons.iter().all(|b| b == "Download" || b == "Preview"),
        "{buttons:?}"
    );
    browser.screenshot("case-shared-read").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_an_administrator_invites_a_new_member() {
    let practice = Practice::spawn().await;
    let admin = practice.user("clinic-admin").await;
    practice
        .org(
            "Clinique des Alpes",
            &[(&admin, casevault_storage::OrgRole::Admin)],
        )
        .await;
    let Some(browser) = signed_in(&practice, &admin, "en").await else {
        return;
    };
    browser.goto(&practice.app.url("/org")).await;
    browser.wait_text("#orgs h2", "Clinique des Alpes").await;
    browser
        .fill(
            "form.add-member input[type=email]",
            "new.assistant@example-clinic.org",
        )
        .await;
    browser.click("form.add-member button[type=submit]").await;
    // Mail is off in this test: the page hands the invitation link over.
    browser.wait_for(".invite-result input").await;
    let link = browser
        .eval(
            "return document.querySelector('.invite-result input').value;",
            vec![],
        )
        .await;
    let link = link.as_str().expect("an invitation link").to_owned();
    browser.screenshot("org-admin").await;
    browser.close().await;

    let newcomer = Browser::launch("fr").await.expect("a browser");
    newcomer.goto(&link).await;
    newcomer
        .wait_text("#invite-text", "Clinique des Alpes")
        .await;
    newcomer.fill("#display-name", "Camille Martin").await;
    newcomer
        .fill("#password", "une phrase de passe assez longue")
        .await;
    newcomer.click("#invite-form button[type=submit]").await;
    newcomer.wait_text("#orgs h2", "Clinique des Alpes").await;
    newcomer.wait_text(".members tbody", "Camille Martin").await;
    newcomer.screenshot("org-member-fr").await;
    // The link is used up.
    newcomer.goto(&link).await;
    newcomer.wait_for("#invite-dead").await;
    newcomer.close().await;
}

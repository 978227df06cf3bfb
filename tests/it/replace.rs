//! Replacing and removing components while queries run on every
//! connection of the async pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use futures::StreamExt;
use wasmudf::{Database, Error};
use wasmudf_tests::{component, runtime};

/// One query's answers, each naming the version that gave it: all the same
/// version, which the test returns.
async fn versions_agree(db: &Database, x: i64) -> Result<String> {
    let row = db
        .query_row(
            "SELECT swap_version(), swap_mix(?1),
                    (SELECT swap_count(i) FROM swap_rows(5)),
                    (SELECT group_concat(DISTINCT version) FROM swap_rows(40))",
            [x],
        )
        .await?;
    let version: String = row.get(0)?;
    assert_eq!(row.get::<String>(1)?, format!("{version}:{x}"));
    assert_eq!(row.get::<String>(2)?, format!("{version}:5"));
    assert_eq!(row.get::<String>(3)?, version);
    Ok(version)
}

#[test]
fn replacing_under_load_gives_every_answer_from_one_version() -> Result<()> {
    runtime().block_on(async {
        let (a, b) = (component("swap-a"), component("swap-b"));
        let db = Database::builder()
            .components([a.clone(), component("text")])
            .pool_size(3)
            .open()
            .await?;
        assert_eq!(versions_agree(&db, 1).await?, "a");
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for t in 0..4 {
            let (db, stop) = (db.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut seen = std::collections::BTreeMap::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) || i < 20 {
                    let version = versions_agree(&db, t * 1000 + i).await?;
                    *seen.entry(version).or_insert(0) += 1;
                    // Other components stay as they were.
                    let row = db.query_row("SELECT unicode_upper('ok')", ()).await?;
                    assert_eq!(row.get::<String>(0)?, "OK");
                    i += 1;
                }
                anyhow::Ok(seen)
            }));
        }
        // A stream that starts on `a` finishes on `a`, however many
        // replacements happen while it is read.
        let mut stream = db.stream("SELECT version, i FROM swap_rows(300)", ());
        let first = stream.next().await.expect("a row")?;
        let streamed: String = first.get(0)?;
        let mut current = a.clone();
        for round in 0..30 {
            let next = if round % 2 == 0 { b.clone() } else { a.clone() };
            db.replace_component(&current, next.clone()).await?;
            current = next;
            if let Some(row) = stream.next().await {
                assert_eq!(row?.get::<String>(0)?, streamed, "round {round}");
            }
            tokio::task::yield_now().await;
        }
        while let Some(row) = stream.next().await {
            assert_eq!(row?.get::<String>(0)?, streamed);
        }
        stop.store(true, Ordering::Relaxed);
        let mut total = std::collections::BTreeMap::new();
        for task in tasks {
            for (version, n) in task.await?? {
                *total.entry(version).or_insert(0) += n;
            }
        }
        assert!(total.values().sum::<i32>() >= 80, "{total:?}");
        // After the last replacement, every connection answers with it.
        let last = current.clone();
        for _ in 0..6 {
            let version = versions_agree(&db, 9).await?;
            assert_eq!(version, if last.same_as(&a) { "a" } else { "b" });
        }
        let listed = db
            .query_row(
                "SELECT count(*) FROM wasmudf_components WHERE component = ?1",
                [last.origin()],
            )
            .await?;
        assert_eq!(listed.get::<i64>(0)?, 1);
        assert_eq!(db.components().len(), 2);
        Ok(())
    })
}

#[test]
fn removing_a_component_and_refused_replacements_change_nothing_else() -> Result<()> {
    runtime().block_on(async {
        let (a, b) = (component("swap-a"), component("swap-b"));
        let db = Database::builder()
            .components([a.clone()])
            .pool_size(2)
            .open()
            .await?;
        // Not one of the database's components.
        let err = db
            .replace_component(&b, a.clone())
            .await
            .expect_err("b is not in the database");
        assert!(matches!(err, Error::NotRegistered { .. }), "{err}");
        // A replacement that clashes with a builtin is refused on the first
        // connection and leaves `a` in place everywhere.
        let shadow = component("shadow-builtins");
        let err = db
            .replace_component(&a, shadow)
            .await
            .expect_err("clashes with builtins");
        assert!(matches!(err, Error::NameClash { .. }), "{err}");
        for _ in 0..4 {
            assert_eq!(versions_agree(&db, 3).await?, "a");
        }
        db.remove_component(&a).await?;
        for _ in 0..4 {
            let err = db
                .query_row("SELECT swap_version()", ())
                .await
                .expect_err("gone");
            assert!(err.to_string().contains("no such function"), "{err}");
            let err = db
                .query_row("SELECT * FROM swap_rows(1)", ())
                .await
                .expect_err("gone");
            assert!(err.to_string().contains("no such table"), "{err}");
        }
        assert!(db.components().is_empty());
        // And back.
        db.add_components([b.clone()]).await?;
        assert_eq!(versions_agree(&db, 4).await?, "b");
        Ok(())
    })
}

//! Unit tests of the snapshot maps and their index.

use super::*;

fn table(ids: &[&str]) -> Arc<RepTable> {
    let ids: Vec<Text> = ids.iter().map(|s| Text::copy(s)).collect();
    Arc::new(RepTable::new(&ids))
}

fn by_id<V: Clone>(m: &BTreeMap<String, V>, t: &RepTable) -> Vec<Option<V>> {
    t.ids.iter().map(|id| m.get(id.as_str()).cloned()).collect()
}

#[test]
fn rep_map_index_agrees_with_the_map() {
    let t = table(&["carol", "al", "bob", "zed", "al2"]);
    let day: Date = "2026-11-24".parse().unwrap();
    let mut st = StateSnapshot::default();
    st.loads.insert(
        "bob".into(),
        RepLoad {
            early: 1,
            mid: 2,
            late: 3,
        },
    );
    st.loads.insert("unknown".into(), RepLoad::default());
    st.daily.insert(
        "zed".into(),
        DailyCount {
            date: day,
            count: 4,
        },
    );
    st.availability.insert(
        "al".into(),
        AvailabilityOverride {
            out_until: None,
            out: true,
            note: Some("away".into()),
        },
    );
    let check = |st: &StateSnapshot| {
        assert_eq!(st.loads.by_index(&t).unwrap(), &by_id(&st.loads, &t)[..]);
        assert_eq!(st.daily.by_index(&t).unwrap(), &by_id(&st.daily, &t)[..]);
        let away: Vec<Option<AvailabilityOverride>> = st
            .availability
            .by_index(&t)
            .unwrap()
            .iter()
            .map(|a| a.as_deref().cloned())
            .collect();
        assert_eq!(away, by_id(&st.availability, &t));
    };
    check(&st);
    // `apply` keeps the index in step.
    for rep in ["al", "bob", "al", "nobody"] {
        st.apply(&[
            Effect::AddEarlyLoad {
                rep: Text::copy(rep),
            },
            Effect::CountDaily {
                rep: Text::copy(rep),
                date: day,
            },
        ]);
        check(&st);
    }
    assert_eq!(st.loads.by_index(&t).unwrap()[1].unwrap().early, 2);
    // A change through the map drops the index; the next read rebuilds it.
    st.loads.insert(
        "carol".into(),
        RepLoad {
            early: 9,
            mid: 0,
            late: 0,
        },
    );
    st.daily.remove("zed");
    check(&st);
    let copy = st.clone();
    assert_eq!(copy, st);
    check(&copy);
    // Another config's table: read by id, then rebuilt after the next change.
    let other = table(&["bob", "al"]);
    assert!(st.loads.by_index(&other).is_none());
    st.apply(&[Effect::AddEarlyLoad { rep: "bob".into() }]);
    assert_eq!(
        st.loads.by_index(&other).unwrap(),
        &by_id(&st.loads, &other)[..]
    );
    // Rotations by team and member position.
    let team_ids = [Text::copy("west"), Text::copy("east")];
    let members: Vec<Box<[Text]>> = vec![
        ["carol", "al", "bob", "al"].map(Text::copy).into(),
        ["zed"].map(Text::copy).into(),
    ];
    let members_by_id: Vec<Box<[usize]>> = vec![[1, 3, 2, 0].into(), [0].into()];
    let teams = Arc::new(TeamTable::new(&team_ids, members, members_by_id));
    let by_member = |st: &StateSnapshot| -> Vec<Option<(u64, Vec<Option<u64>>)>> {
        ["west", "east"]
            .iter()
            .zip([&["carol", "al", "bob", "al"][..], &["zed"][..]])
            .map(|(team, ids)| {
                st.rotations.get(*team).map(|r| {
                    let passes = ids.iter().map(|id| r.passes.get(*id).copied()).collect();
                    (r.virtual_time, passes)
                })
            })
            .collect()
    };
    let indexed = |st: &StateSnapshot| -> Vec<Option<(u64, Vec<Option<u64>>)>> {
        st.rotations
            .by_index(&teams)
            .unwrap()
            .iter()
            .map(|r| r.as_ref().map(|r| (r.virtual_time, r.passes.to_vec())))
            .collect()
    };
    st.rotations.insert(
        "west".into(),
        Rotation {
            virtual_time: 5,
            passes: [("al".to_string(), 7), ("x".to_string(), 1)].into(),
        },
    );
    assert_eq!(indexed(&st), by_member(&st));
    for (team, rep, pass) in [("west", "bob", 9), ("east", "zed", 3), ("west", "al", 11)] {
        st.apply(&[Effect::AdvanceRotation {
            team: Text::copy(team),
            rep: Text::copy(rep),
            pass,
            virtual_time: pass - 2,
        }]);
        assert_eq!(indexed(&st), by_member(&st));
    }
    assert_eq!(indexed(&st)[0].as_ref().unwrap().1[3], Some(11));
    // The index keeps the turn order: carol (no pass) at the clock (9) first, then bob
    // at 9, then al (listed twice) at 11.
    let west = st.rotations.by_index(&teams).unwrap()[0].clone().unwrap();
    assert_eq!(
        (west.virtual_time, &west.turns[..]),
        (9, &[(9, 0), (9, 2), (11, 1), (11, 3)][..])
    );
    assert_eq!(
        (
            turn_pass(Some(3), 9),
            turn_pass(None, 9),
            turn_pass(Some(u64::MAX), u64::MAX)
        ),
        (10, 9, u64::MAX)
    );
    // People: looked up through the index once there are many, kept in step.
    let person = |owner: &str| PriorPerson {
        owner: Some(owner.into()),
        status: PriorStatus::Open,
        disqualified_at: None,
        note: None,
    };
    for i in 0..PeopleMap::INDEX_MIN + 5 {
        st.people.insert(format!("p{i}@x.com"), person("al"));
    }
    let lookups = |st: &StateSnapshot| {
        for i in 0..PeopleMap::INDEX_MIN + 10 {
            let e = format!("p{i}@x.com");
            assert_eq!(st.people.person(&e), st.people.get(&e), "{e}");
        }
    };
    lookups(&st);
    assert!(matches!(st.people.index.get(), Some(Some(_))));
    st.people.insert("p1@x.com".into(), person("bob"));
    st.people.insert("new@x.com".into(), person("bob"));
    if let Some(p) = st.people.get_mut("p2@x.com") {
        p.status = PriorStatus::Disqualified;
    }
    st.apply(&[Effect::SetOwner {
        email: "p3@x.com".into(),
        rep: "zed".into(),
    }]);
    lookups(&st);
    assert_eq!(
        st.people.person("p2@x.com").unwrap().status,
        PriorStatus::Disqualified
    );
    assert_eq!(
        st.people.person("p3@x.com").unwrap().owner.as_deref(),
        Some("zed")
    );
    assert_eq!(
        st.people.person("new@x.com").unwrap().owner.as_deref(),
        Some("bob")
    );
    st.people.remove("p4@x.com");
    assert!(st.people.index.get().is_none());
    lookups(&st);
    // Serialised exactly as the map.
    let json = serde_json::to_string(&st).unwrap();
    let back: StateSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, st);
    assert_eq!(
        serde_json::to_string(&st.loads).unwrap(),
        serde_json::to_string(&*st.loads).unwrap()
    );
    assert_eq!(format!("{:?}", st.daily), format!("{:?}", *st.daily));
}

use leitstand_app::AppError;
use leitstand_core::access::Role;
use leitstand_store::store_test;

use crate::{add, admin, app, audit};

store_test!(tenant_viewer_sees_only_its_tenants, |store| {
    let (app, _) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    let viewer = add(&app, &admin, "viewer", Role::TenantViewer, &["bank-a"]).await;
    let visible: Vec<String> = app.tenants(&viewer).await.unwrap().into_iter().map(|t| t.slug.to_string()).collect();
    assert_eq!(visible, ["bank-a"]);
    assert!(app.tenant(&viewer, "bank-a").await.is_ok());
    let err = app.tenant(&viewer, "bank-b").await.unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "another tenant does not even exist for the viewer");
    assert!(matches!(app.rename_tenant(&viewer, "bank-a", "Mine").await, Err(AppError::Forbidden { .. })));
    assert!(matches!(app.create_tenant(&viewer, "bank-c", "C").await, Err(AppError::Forbidden { .. })));
    assert_eq!(app.tenants(&admin).await.unwrap().len(), 2);
});

store_test!(tenant_changes_are_validated_and_audited, |store| {
    let (app, _) = app(store);
    let admin = admin(&app).await;
    let err = app.create_tenant(&admin, "Bad Slug", "x").await.unwrap_err();
    assert_eq!(err.to_string(), "slug: may contain only a-z, 0-9 and '-'");
    app.create_tenant(&admin, "vergabe", "Vergabeportal").await.unwrap();
    assert!(matches!(app.create_tenant(&admin, "vergabe", "again").await, Err(AppError::Conflict { .. })));
    app.rename_tenant(&admin, "vergabe", "Vergabeportal Bund").await.unwrap();
    let t = app.set_tenant_active(&admin, "vergabe", false).await.unwrap();
    assert!(!t.active);
    let actions: Vec<String> = audit(&app).await.into_iter().map(|e| e.action).collect();
    for a in ["tenant.create", "tenant.rename", "tenant.deactivate"] {
        assert!(actions.contains(&a.to_string()), "{a} audited");
    }
});

store_test!(role_changes_need_admin_and_are_audited, |store| {
    let (app, _) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "t1", "T1").await.unwrap();
    let devops = add(&app, &admin, "dev", Role::Devops, &[]).await;
    assert!(matches!(
        app.change_role(&devops, &"dev".parse().unwrap(), Role::Admin, vec![]).await,
        Err(AppError::Forbidden { .. })
    ));
    let err = app.change_role(&admin, &"dev".parse().unwrap(), Role::TenantViewer, vec![]).await.unwrap_err();
    assert_eq!(err.to_string(), "tenants: a tenant viewer needs at least one tenant");
    let user = app.change_role(&admin, &"dev".parse().unwrap(), Role::TenantViewer, vec!["t1".into()]).await.unwrap();
    assert_eq!(user.role, Role::TenantViewer);
    let events = audit(&app).await;
    let change = events.iter().find(|e| e.action == "role.change").unwrap();
    assert!(change.event.contains("\"from\":\"devops\"") && change.event.contains("\"to\":\"tenant_viewer\""));
});

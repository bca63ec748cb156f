//! Languages of the hosted pages: zh-CN (default) and English.
//!
//! Every user-visible string is a field of [`Text`], and there is one
//! `Text` value per language, so a string missing in one language is a
//! compile error rather than a blank on a page.
//!
//! The language of a request is, in order: `?lang=` (which also sets a
//! cookie), the `lang` cookie, `ui_locales` (OIDC), `Accept-Language`, zh-CN.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

pub const LANG_COOKIE: &str = "tongxing_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    ZhCn,
    En,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::ZhCn => &ZH_CN,
            Lang::En => &EN,
        }
    }

    /// Accepts `zh`, `zh-CN`, `zh-Hans`, `en`, `en-US` … (case-insensitive).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header (RFC 9110
    /// §12.5.4), honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(Self, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// Space-separated OIDC `ui_locales`: the first supported one wins.
    pub fn from_ui_locales(value: &str) -> Option<Self> {
        value.split_whitespace().find_map(Lang::from_tag)
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Middleware: decides the language, puts it in the request extensions and
/// remembers an explicit `?lang=` choice in a cookie.
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or_default();
    let explicit = query_param(query, "lang").and_then(Lang::from_tag);
    let lang = explicit
        .or_else(|| {
            crate::extract::cookie(req.headers(), LANG_COOKIE).and_then(|v| Lang::from_tag(&v))
        })
        .or_else(|| {
            query_param(query, "ui_locales")
                .and_then(|v| Lang::from_ui_locales(&v.replace("%20", " ").replace('+', " ")))
        })
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|h| h.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default();
    req.extensions_mut().insert(lang);
    let mut response = next.run(req).await;
    if let Some(chosen) = explicit {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            chosen.tag()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    response
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_default())
    }
}

/// All user-visible text of the hosted pages.
pub struct Text {
    pub html_lang: &'static str,
    pub brand: &'static str,
    pub other_language: &'static str,
    pub footer: &'static str,

    pub login_title: &'static str,
    pub login_identifier: &'static str,
    pub login_identifier_hint: &'static str,
    pub login_password: &'static str,
    pub login_submit: &'static str,
    pub login_invalid: &'static str,
    pub login_disabled: &'static str,
    pub login_missing_fields: &'static str,
    /// Followed by a duration.
    pub login_locked: &'static str,
    pub login_cancel: &'static str,
    pub busy: &'static str,

    pub account_title: &'static str,
    pub account_name: &'static str,
    pub display_name: &'static str,
    pub login_phone: &'static str,
    pub security_phone: &'static str,
    pub security_email: &'static str,
    pub organization: &'static str,
    pub role: &'static str,
    pub role_admin: &'static str,
    pub role_user: &'static str,
    pub not_bound: &'static str,
    pub not_set: &'static str,
    pub verified: &'static str,
    pub unverified: &'static str,
    pub security_settings: &'static str,
    pub security_settings_note: &'static str,
    pub last_login: &'static str,
    pub sign_out: &'static str,

    pub logout_title: &'static str,
    pub logout_confirm: &'static str,
    pub logout_submit: &'static str,
    pub logout_done: &'static str,
    pub sign_in_again: &'static str,

    pub error_title: &'static str,
    pub error_not_found: &'static str,
    pub error_csrf: &'static str,
    pub error_bad_request: &'static str,
    pub error_internal: &'static str,
    pub error_too_many: &'static str,
    pub error_unavailable: &'static str,
    pub error_bad_client_request: &'static str,
    pub back_home: &'static str,

    pub seconds: &'static str,
    pub minutes: &'static str,

    pub consent_title: &'static str,
    /// Followed by the list of what the application asks for.
    pub consent_intro: &'static str,
    pub consent_allow: &'static str,
    pub consent_deny: &'static str,
    pub consent_note: &'static str,
    pub scope_openid: &'static str,
    pub scope_profile: &'static str,
    pub scope_email: &'static str,
    pub scope_phone: &'static str,
    pub scope_offline_access: &'static str,

    pub apps_title: &'static str,
    pub apps_intro: &'static str,
    pub apps_none: &'static str,
    pub apps_revoke: &'static str,
    pub apps_revoked: &'static str,
    pub apps_link: &'static str,

    pub password_title: &'static str,
    pub password_current: &'static str,
    pub password_new: &'static str,
    pub password_repeat: &'static str,
    pub password_submit: &'static str,
    pub password_changed: &'static str,
    pub password_mismatch: &'static str,
    pub password_wrong_current: &'static str,
    pub password_forced: &'static str,
    pub password_mail_note: &'static str,
    pub password_link: &'static str,
    /// Followed by the minimum length.
    pub password_rule_length: &'static str,
    pub password_rule_classes: &'static str,
    pub password_rule_identity: &'static str,
    pub policy_too_long: &'static str,
    pub policy_no_upper: &'static str,
    pub policy_no_lower: &'static str,
    pub policy_no_digit: &'static str,
    pub policy_no_special: &'static str,
    pub policy_contains_account_name: &'static str,
    pub policy_contains_phone: &'static str,
    pub policy_too_weak: &'static str,
    pub password_strength: &'static str,
    pub strength_weak: &'static str,
    pub strength_medium: &'static str,
    pub strength_strong: &'static str,

    pub admin_title: &'static str,
    pub admin_nav_dashboard: &'static str,
    pub admin_nav_users: &'static str,
    pub admin_nav_clients: &'static str,
    pub admin_nav_audit: &'static str,
    pub admin_forbidden: &'static str,
    pub admin_users_total: &'static str,
    pub admin_users_disabled: &'static str,
    pub admin_recent_events: &'static str,
    pub admin_search: &'static str,
    pub admin_search_hint: &'static str,
    pub admin_no_results: &'static str,
    pub admin_status: &'static str,
    pub admin_status_active: &'static str,
    pub admin_status_disabled: &'static str,
    pub admin_actions: &'static str,
    pub admin_profile: &'static str,
    pub admin_save: &'static str,
    pub admin_reason: &'static str,
    pub admin_disable: &'static str,
    pub admin_enable: &'static str,
    pub admin_reset_password: &'static str,
    pub admin_reset_hint: &'static str,
    pub admin_force_change: &'static str,
    pub admin_revoke: &'static str,
    pub admin_done: &'static str,
    pub admin_stale: &'static str,
    pub admin_generated_password: &'static str,
    pub admin_back: &'static str,
    pub admin_time: &'static str,
    pub admin_event: &'static str,
    pub admin_outcome: &'static str,
    pub admin_actor: &'static str,
    pub admin_subject: &'static str,
    pub admin_ip: &'static str,
    pub admin_detail: &'static str,
    pub admin_older: &'static str,
    pub admin_filter: &'static str,
    pub admin_client_id: &'static str,
    pub admin_client_name: &'static str,
    pub admin_client_auth: &'static str,
    pub admin_first_party: &'static str,
    pub admin_redirect_uris: &'static str,
    pub admin_must_change: &'static str,
    pub admin_yes: &'static str,
    pub admin_no: &'static str,
    pub admin_events_of_user: &'static str,
    pub admin_create_user: &'static str,
    pub admin_invalid: &'static str,
    pub admin_in_use: &'static str,
    pub admin_refused_own_role: &'static str,
    pub admin_refused_own_account: &'static str,
    pub admin_refused_last_admin: &'static str,
    pub step_up_title: &'static str,
    pub step_up_intro: &'static str,
    pub step_up_send: &'static str,
    pub step_up_sent: &'static str,
    pub step_up_wait: &'static str,
    pub step_up_limit: &'static str,
    pub step_up_send_failed: &'static str,
    pub step_up_code: &'static str,
    pub step_up_submit: &'static str,
    pub step_up_wrong: &'static str,
    pub step_up_no_code: &'static str,
    pub step_up_help_link: &'static str,
    pub step_up_help_title: &'static str,
    pub step_up_help_text: &'static str,
    pub step_up_no_phone: &'static str,
    pub recover_link: &'static str,
    pub recover_title: &'static str,
    pub recover_intro: &'static str,
    pub recover_identifier: &'static str,
    pub recover_identifier_hint: &'static str,
    pub captcha_label: &'static str,
    pub captcha_alt: &'static str,
    pub captcha_hint: &'static str,
    pub captcha_other: &'static str,
    pub recover_next: &'static str,
    pub recover_empty: &'static str,
    pub recover_captcha_wrong: &'static str,
    pub recover_too_many: &'static str,
    pub recover_method_intro: &'static str,
    pub recover_by_sms: &'static str,
    pub recover_by_sms_hint: &'static str,
    pub recover_by_email: &'static str,
    pub recover_by_email_hint: &'static str,
    pub recover_no_channel: &'static str,
    pub recover_other_way: &'static str,
    pub recover_code_sent: &'static str,
    pub recover_mail_sent: &'static str,
    pub recover_mail_hint: &'static str,
    pub recover_mail_limit: &'static str,
    pub recover_password_note: &'static str,
    pub recover_done: &'static str,
    pub recover_invalid: &'static str,
    pub recover_start_again: &'static str,
    pub email_link: &'static str,
    pub email_title: &'static str,
    pub email_note: &'static str,
    pub email_current: &'static str,
    pub email_pending: &'static str,
    pub email_new: &'static str,
    pub email_submit: &'static str,
    pub email_sent: &'static str,
    pub email_remove: &'static str,
    pub email_removed: &'static str,
    pub email_invalid: &'static str,
    pub email_unchanged: &'static str,
    pub email_taken: &'static str,
    pub email_delivery_failed: &'static str,
    pub email_invalid_link: &'static str,
    pub email_confirm_title: &'static str,
    pub email_confirm_intro: &'static str,
    pub email_confirm_button: &'static str,
    pub email_confirmed: &'static str,
}

impl Text {
    /// One broken password rule, in this language.
    pub fn policy(&self, v: crate::domain::PolicyViolation, min_length: usize) -> String {
        use crate::domain::PolicyViolation as P;
        match v {
            P::TooShort => format!("{} {min_length}", self.password_rule_length),
            P::TooLong => self.policy_too_long.into(),
            P::NoUpper => self.policy_no_upper.into(),
            P::NoLower => self.policy_no_lower.into(),
            P::NoDigit => self.policy_no_digit.into(),
            P::NoSpecial => self.policy_no_special.into(),
            P::ContainsAccountName => self.policy_contains_account_name.into(),
            P::ContainsPhone => self.policy_contains_phone.into(),
            P::TooWeak => self.policy_too_weak.into(),
        }
    }

    /// "2 minutes 5 seconds" / "2 分 5 秒", rounded up to whole seconds.
    pub fn duration(&self, d: std::time::Duration) -> String {
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let (m, s) = (secs / 60, secs % 60);
        let sep = if self.html_lang == "en" { " " } else { "" };
        match (m, s) {
            (0, s) => format!("{s}{sep}{}", self.seconds),
            (m, 0) => format!("{m}{sep}{}", self.minutes),
            (m, s) => format!("{m}{sep}{} {s}{sep}{}", self.minutes, self.seconds),
        }
    }
}

pub static ZH_CN: Text = Text {
    html_lang: "zh-CN",
    brand: "通行证",
    other_language: "English",
    footer: "统一身份认证 · 通行",

    login_title: "登录通行证",
    login_identifier: "通行证账号或手机号",
    login_identifier_hint: "例如 zhang@cnic.cn 或 13312348347",
    login_password: "密码",
    login_submit: "登录",
    login_invalid: "账号或密码错误。",
    login_disabled: "该账号已被停用，无法登录。如有疑问，请联系管理员。",
    login_missing_fields: "请输入账号和密码。",
    login_locked: "尝试次数过多，请稍后再试。需要等待：",
    login_cancel: "取消登录，返回应用",
    busy: "系统繁忙，请稍后重试。",

    account_title: "我的通行证",
    account_name: "通行证账号",
    display_name: "姓名",
    login_phone: "登录手机",
    security_phone: "密保手机",
    security_email: "密保邮箱",
    organization: "所属单位",
    role: "角色",
    role_admin: "管理员",
    role_user: "普通用户",
    not_bound: "未绑定",
    not_set: "未设置",
    verified: "已验证",
    unverified: "未验证",
    security_settings: "安全设置",
    security_settings_note: "在这里修改密码、管理已授权的应用。",
    last_login: "上次登录",
    sign_out: "退出登录",

    logout_title: "退出登录",
    logout_confirm: "确定要退出通行证吗？",
    logout_submit: "退出",
    logout_done: "您已安全退出通行证。",
    sign_in_again: "重新登录",

    error_title: "出错了",
    error_not_found: "您访问的页面不存在。",
    error_csrf: "页面已过期或请求无效，请返回后刷新页面重试。",
    error_bad_request: "请求无效，请检查后重试。",
    error_internal: "服务器内部错误，请稍后重试。",
    error_too_many: "请求过于频繁，请稍后再试。",
    error_unavailable: "服务暂时不可用，请稍后重试。",
    error_bad_client_request: "应用发来的登录请求无效，无法继续。请联系该应用的管理员。",
    back_home: "返回首页",

    seconds: "秒",
    minutes: "分",

    consent_title: "授权确认",
    consent_intro: "请求使用您的通行证登录，并获取以下信息：",
    consent_allow: "同意",
    consent_deny: "拒绝",
    consent_note: "您可以随时在“已授权的应用”中撤销授权。",
    scope_openid: "确认您的身份",
    scope_profile: "姓名、账号名称和所属单位",
    scope_email: "电子邮件地址",
    scope_phone: "手机号码",
    scope_offline_access: "在您离开后继续访问（长期授权）",

    apps_title: "已授权的应用",
    apps_intro: "以下应用已获得您的授权。撤销后，应用需再次征得您的同意，其已获得的令牌立即失效。",
    apps_none: "您尚未授权任何应用。",
    apps_revoke: "撤销授权",
    apps_revoked: "已撤销授权。",
    apps_link: "管理已授权的应用",

    password_title: "修改密码",
    password_current: "当前密码",
    password_new: "新密码",
    password_repeat: "再次输入新密码",
    password_submit: "修改密码",
    password_changed: "密码已修改。其他设备上的登录已退出。",
    password_mismatch: "两次输入的新密码不一致。",
    password_wrong_current: "当前密码不正确。",
    password_forced: "管理员要求您在继续之前设置新密码。",
    password_mail_note: "注意：通行证密码同时也是邮件系统的密码，修改后请使用新密码登录邮箱。",
    password_link: "修改密码",
    password_rule_length: "至少包含以下字符数：",
    password_rule_classes: "须同时包含大写字母、小写字母、数字和特殊字符",
    password_rule_identity: "不得包含账号名称或手机号",
    policy_too_long: "密码过长。",
    policy_no_upper: "密码须包含大写字母。",
    policy_no_lower: "密码须包含小写字母。",
    policy_no_digit: "密码须包含数字。",
    policy_no_special: "密码须包含特殊字符。",
    policy_contains_account_name: "密码不得包含账号名称。",
    policy_contains_phone: "密码不得包含手机号。",
    policy_too_weak: "密码太容易被猜到，请使用更长的密码或不相关的词语组合。",
    password_strength: "密码强度：",
    strength_weak: "弱",
    strength_medium: "中",
    strength_strong: "强",

    admin_title: "管理控制台",
    admin_nav_dashboard: "概览",
    admin_nav_users: "用户",
    admin_nav_clients: "应用",
    admin_nav_audit: "审计日志",
    admin_forbidden: "只有管理员可以访问管理控制台。",
    admin_users_total: "用户总数",
    admin_users_disabled: "已停用",
    admin_recent_events: "最近的安全事件",
    admin_search: "搜索",
    admin_search_hint: "账号、姓名、手机号或单位",
    admin_no_results: "没有找到匹配的用户。",
    admin_status: "状态",
    admin_status_active: "正常",
    admin_status_disabled: "已停用",
    admin_actions: "操作",
    admin_profile: "资料",
    admin_save: "保存",
    admin_reason: "原因",
    admin_disable: "停用账号",
    admin_enable: "启用账号",
    admin_reset_password: "重置密码",
    admin_reset_hint: "留空则自动生成强密码（仅显示一次）。",
    admin_force_change: "要求下次登录时修改密码",
    admin_revoke: "注销全部会话和令牌",
    admin_done: "操作已完成。",
    admin_stale: "该账号已被他人修改，请刷新后重试。",
    admin_generated_password: "新密码（仅显示这一次）：",
    admin_back: "返回",
    admin_time: "时间",
    admin_event: "事件",
    admin_outcome: "结果",
    admin_actor: "操作者",
    admin_subject: "对象",
    admin_ip: "IP",
    admin_detail: "详情",
    admin_older: "更早",
    admin_filter: "筛选",
    admin_client_id: "客户端 ID",
    admin_client_name: "名称",
    admin_client_auth: "认证方式",
    admin_first_party: "内部应用",
    admin_redirect_uris: "回调地址",
    admin_must_change: "须修改密码",
    admin_yes: "是",
    admin_no: "否",
    admin_events_of_user: "该用户的审计记录",
    admin_create_user: "新建用户",
    admin_invalid: "格式不正确",
    admin_in_use: "已被使用",
    admin_refused_own_role: "不能撤销自己的管理员角色",
    admin_refused_own_account: "不能停用自己的账号",
    admin_refused_last_admin: "不能停用或降级最后一位管理员",
    step_up_title: "短信验证",
    step_up_intro: "为了保护您的账号，请输入发送到以下手机的验证码：",
    step_up_send: "发送验证码",
    step_up_sent: "验证码已发送，请查收短信。",
    step_up_wait: "发送过于频繁，请稍后再试。需要等待：",
    step_up_limit: "今日发送次数已达上限，请明天再试或联系管理员。",
    step_up_send_failed: "短信发送失败，请稍后重试。",
    step_up_code: "验证码",
    step_up_submit: "验证",
    step_up_wrong: "验证码错误。剩余尝试次数：",
    step_up_no_code: "验证码无效或已过期，请重新获取。",
    step_up_help_link: "手机无法接收短信？",
    step_up_help_title: "无法接收短信",
    step_up_help_text: "如果您的手机号已停用或无法接收短信，请携带有效证件联系所在单位的通行证管理员，核实身份后由管理员更换您绑定的手机号。在线申请解绑的功能即将提供。",
    step_up_no_phone: "此次登录需要短信验证，但您的账号未绑定手机号。请先联系管理员绑定手机号。",
    recover_link: "忘记密码？",
    recover_title: "找回密码",
    recover_intro: "请输入您的通行证账号、登录手机号或已验证的密保邮箱，并填写图片验证码。",
    recover_identifier: "账号 / 手机号 / 密保邮箱",
    recover_identifier_hint: "手机号默认为中国大陆号码，其他地区请以 + 和国家代码开头。",
    captcha_label: "图片验证码",
    captcha_alt: "验证码图片",
    captcha_hint: "不区分大小写。",
    captcha_other: "看不清？换一张",
    recover_next: "下一步",
    recover_empty: "请输入账号、手机号或密保邮箱。",
    recover_captcha_wrong: "图片验证码错误或已过期，请重新输入。",
    recover_too_many: "找回密码的尝试过于频繁，请稍后再试。需要等待：",
    recover_method_intro: "请选择验证身份的方式。如果该账号支持所选方式，您将收到验证码或邮件。",
    recover_by_sms: "向绑定的手机发送验证码",
    recover_by_sms_hint: "验证码将发送到该账号绑定的手机（密保手机优先）。",
    recover_by_email: "向密保邮箱发送重置链接",
    recover_by_email_hint: "只有已验证的密保邮箱才能收到重置链接。",
    recover_no_channel: "如果手机已无法接收短信、也没有密保邮箱，请联系管理员或通过单位证明找回密码。",
    recover_other_way: "换一种方式",
    recover_code_sent: "如果该账号绑定了手机，验证码已发送到该手机，请在下方输入。",
    recover_mail_sent: "如果该账号有已验证的密保邮箱，重置密码的链接已发送到该邮箱。链接有效期：",
    recover_mail_hint: "请打开邮件中的链接设置新密码。没有收到？请检查垃圾邮件，或换一种方式。",
    recover_mail_limit: "今日发送重置邮件的次数已达上限，请明天再试或换一种方式。",
    recover_password_note: "设置新密码后，该账号在所有设备上的登录都将退出，下次登录需要短信验证。",
    recover_done: "密码已重置。所有设备上的登录均已退出，请用新密码登录（需要短信验证）。",
    recover_invalid: "此链接或找回流程已失效（已过期或已使用），请重新开始。",
    recover_start_again: "重新找回密码",
    email_link: "密保邮箱",
    email_title: "密保邮箱",
    email_note: "密保邮箱仅用于找回密码，且必须通过邮件中的链接验证后才能使用。",
    email_current: "当前密保邮箱",
    email_pending: "等待确认",
    email_new: "新的密保邮箱",
    email_submit: "发送确认邮件",
    email_sent: "确认邮件已发送，请打开邮件中的链接完成设置。确认之前，原有的密保邮箱仍然有效。",
    email_remove: "删除密保邮箱",
    email_removed: "密保邮箱已删除。",
    email_invalid: "邮箱地址格式不正确。",
    email_unchanged: "该地址已经是您的密保邮箱。",
    email_taken: "该邮箱已是其他账号的密保邮箱。",
    email_delivery_failed: "邮件发送失败，请稍后重试。",
    email_invalid_link: "确认链接无效、已过期或已使用。请在账号页面重新发送。",
    email_confirm_title: "确认密保邮箱",
    email_confirm_intro: "请确认将以下邮箱设为该账号的密保邮箱：",
    email_confirm_button: "确认",
    email_confirmed: "密保邮箱已确认，今后可用于找回密码。",
};

pub static EN: Text = Text {
    html_lang: "en",
    brand: "Passport",
    other_language: "中文",
    footer: "Unified sign-in · Tongxing",

    login_title: "Sign in to your passport",
    login_identifier: "Passport account or phone number",
    login_identifier_hint: "e.g. zhang@cnic.cn or 13312348347",
    login_password: "Password",
    login_submit: "Sign in",
    login_invalid: "The account or password is incorrect.",
    login_disabled: "This account has been disabled and cannot sign in. Please contact an administrator.",
    login_missing_fields: "Please enter your account and password.",
    login_locked: "Too many attempts. Please try again later. Time to wait:",
    login_cancel: "Cancel and return to the application",
    busy: "The system is busy. Please try again in a moment.",

    account_title: "My passport",
    account_name: "Passport account",
    display_name: "Name",
    login_phone: "Login phone",
    security_phone: "Security phone",
    security_email: "Security e-mail",
    organization: "Organization",
    role: "Role",
    role_admin: "Administrator",
    role_user: "User",
    not_bound: "Not bound",
    not_set: "Not set",
    verified: "verified",
    unverified: "not verified",
    security_settings: "Security settings",
    security_settings_note: "Change your password and manage the applications you authorized.",
    last_login: "Last sign-in",
    sign_out: "Sign out",

    logout_title: "Sign out",
    logout_confirm: "Do you want to sign out of your passport?",
    logout_submit: "Sign out",
    logout_done: "You have signed out of your passport.",
    sign_in_again: "Sign in again",

    error_title: "Something went wrong",
    error_not_found: "The page you asked for does not exist.",
    error_csrf: "This page has expired or the request was not valid. Please go back, reload the page and try again.",
    error_bad_request: "The request was not valid. Please check it and try again.",
    error_internal: "An internal error occurred. Please try again later.",
    error_too_many: "Too many requests. Please try again later.",
    error_unavailable: "The service is temporarily unavailable. Please try again later.",
    error_bad_client_request: "The application sent a sign-in request that cannot be processed. Please contact the application's administrator.",
    back_home: "Back to the start page",

    seconds: "s",
    minutes: "min",

    consent_title: "Authorize access",
    consent_intro: "wants to sign you in with your passport and receive:",
    consent_allow: "Allow",
    consent_deny: "Deny",
    consent_note: "You can withdraw this at any time under “Authorized applications”.",
    scope_openid: "Confirmation of who you are",
    scope_profile: "Your name, account name and organization",
    scope_email: "Your e-mail address",
    scope_phone: "Your phone number",
    scope_offline_access: "Access while you are away (long-lived)",

    apps_title: "Authorized applications",
    apps_intro: "These applications have your consent. After you withdraw it, an application must ask again and the tokens it holds stop working at once.",
    apps_none: "You have not authorized any application.",
    apps_revoke: "Withdraw",
    apps_revoked: "Consent withdrawn.",
    apps_link: "Manage authorized applications",

    password_title: "Change password",
    password_current: "Current password",
    password_new: "New password",
    password_repeat: "New password again",
    password_submit: "Change password",
    password_changed: "Your password has been changed. Sessions on other devices have been signed out.",
    password_mismatch: "The two new passwords differ.",
    password_wrong_current: "The current password is not correct.",
    password_forced: "An administrator asks you to set a new password before you continue.",
    password_mail_note: "Note: the passport password is also the password of the mail system; use the new one there too.",
    password_link: "Change password",
    password_rule_length: "At least this many characters:",
    password_rule_classes: "Upper-case and lower-case letters, a digit and a special character",
    password_rule_identity: "Not containing the account name or a phone number",
    policy_too_long: "The password is too long.",
    policy_no_upper: "The password needs an upper-case letter.",
    policy_no_lower: "The password needs a lower-case letter.",
    policy_no_digit: "The password needs a digit.",
    policy_no_special: "The password needs a special character.",
    policy_contains_account_name: "The password must not contain the account name.",
    policy_contains_phone: "The password must not contain a phone number.",
    policy_too_weak: "The password is too easy to guess; use a longer one or unrelated words.",
    password_strength: "Strength:",
    strength_weak: "weak",
    strength_medium: "medium",
    strength_strong: "strong",

    admin_title: "Admin console",
    admin_nav_dashboard: "Overview",
    admin_nav_users: "Users",
    admin_nav_clients: "Applications",
    admin_nav_audit: "Audit log",
    admin_forbidden: "Only administrators may use the admin console.",
    admin_users_total: "Accounts",
    admin_users_disabled: "Disabled",
    admin_recent_events: "Recent security events",
    admin_search: "Search",
    admin_search_hint: "Account, name, phone or organization",
    admin_no_results: "No matching accounts.",
    admin_status: "Status",
    admin_status_active: "active",
    admin_status_disabled: "disabled",
    admin_actions: "Actions",
    admin_profile: "Profile",
    admin_save: "Save",
    admin_reason: "Reason",
    admin_disable: "Disable account",
    admin_enable: "Enable account",
    admin_reset_password: "Reset password",
    admin_reset_hint: "Leave empty to generate a strong password (shown once).",
    admin_force_change: "Require a new password at next login",
    admin_revoke: "Revoke all sessions and tokens",
    admin_done: "Done.",
    admin_stale: "Someone else changed this account; reload and try again.",
    admin_generated_password: "New password (shown only now):",
    admin_back: "Back",
    admin_time: "Time",
    admin_event: "Event",
    admin_outcome: "Outcome",
    admin_actor: "Actor",
    admin_subject: "Subject",
    admin_ip: "IP",
    admin_detail: "Detail",
    admin_older: "Older",
    admin_filter: "Filter",
    admin_client_id: "Client id",
    admin_client_name: "Name",
    admin_client_auth: "Authentication",
    admin_first_party: "First party",
    admin_redirect_uris: "Redirect URIs",
    admin_must_change: "must change password",
    admin_yes: "yes",
    admin_no: "no",
    admin_events_of_user: "Audit entries of this account",
    admin_create_user: "Create an account",
    admin_invalid: "is not valid",
    admin_in_use: "is already in use",
    admin_refused_own_role: "you cannot remove your own administrator role",
    admin_refused_own_account: "you cannot disable your own account",
    admin_refused_last_admin: "the last active administrator cannot be demoted or disabled",
    step_up_title: "SMS verification",
    step_up_intro: "To protect your account, enter the code sent to:",
    step_up_send: "Send code",
    step_up_sent: "The code has been sent. Please check your messages.",
    step_up_wait: "Codes are sent at most once a minute. Time to wait:",
    step_up_limit: "Too many codes today. Try again tomorrow or contact an administrator.",
    step_up_send_failed: "The SMS could not be sent. Please try again later.",
    step_up_code: "Verification code",
    step_up_submit: "Verify",
    step_up_wrong: "Wrong code. Tries left:",
    step_up_no_code: "The code is invalid or has expired. Please request a new one.",
    step_up_help_link: "Your phone cannot receive SMS?",
    step_up_help_title: "Cannot receive SMS",
    step_up_help_text: "If your phone number is no longer in use or cannot receive SMS, contact your organization's passport administrator with valid identification; after checking your identity they can change the phone bound to your account. An online unbind application is coming.",
    step_up_no_phone: "This sign-in needs SMS verification, but your account has no phone bound. Please ask an administrator to bind one first.",
    recover_link: "Forgot your password?",
    recover_title: "Recover your password",
    recover_intro: "Enter your passport account name, login phone number or verified security e-mail, and the characters in the picture.",
    recover_identifier: "Account / phone / security e-mail",
    recover_identifier_hint: "Phone numbers are taken as mainland China numbers unless they start with + and a country code.",
    captcha_label: "Characters in the picture",
    captcha_alt: "Captcha picture",
    captcha_hint: "Upper or lower case does not matter.",
    captcha_other: "Hard to read? Show another",
    recover_next: "Continue",
    recover_empty: "Enter an account name, phone number or security e-mail.",
    recover_captcha_wrong: "The characters do not match the picture, or the picture expired. Please try again.",
    recover_too_many: "Too many recovery attempts. Please try again later. Wait:",
    recover_method_intro: "Choose how to prove it is you. If the account supports the way you choose, you will receive a code or a mail.",
    recover_by_sms: "Send a code to the bound phone",
    recover_by_sms_hint: "The code goes to the phone bound to the account (the security phone first).",
    recover_by_email: "Send a link to the security e-mail",
    recover_by_email_hint: "Only a verified security e-mail receives the link.",
    recover_no_channel: "If the phone no longer receives SMS and there is no security e-mail, contact the administrators or recover the password with a letter from your organization.",
    recover_other_way: "Try another way",
    recover_code_sent: "If the account has a bound phone, a code was sent to it. Enter it below.",
    recover_mail_sent: "If the account has a verified security e-mail, a link to reset the password was sent to it. The link is valid for:",
    recover_mail_hint: "Open the link in the mail to set a new password. Nothing arrived? Check the spam folder, or try another way.",
    recover_mail_limit: "The number of recovery mails for today is used up. Try again tomorrow or try another way.",
    recover_password_note: "After the new password is set, every sign-in of the account ends, and the next sign-in asks for an SMS code.",
    recover_done: "Your password was reset. Every sign-in has ended; sign in with the new password (an SMS code will be asked for).",
    recover_invalid: "This link or recovery is no longer valid (it expired or was used). Please start again.",
    recover_start_again: "Start again",
    email_link: "Security e-mail",
    email_title: "Security e-mail",
    email_note: "The security e-mail is used only to recover your password, and only after it is confirmed through the link we mail to it.",
    email_current: "Current security e-mail",
    email_pending: "Waiting for confirmation",
    email_new: "New security e-mail",
    email_submit: "Send the confirmation mail",
    email_sent: "The confirmation mail was sent. Open its link to finish. Until then the previous security e-mail stays in force.",
    email_remove: "Remove the security e-mail",
    email_removed: "The security e-mail was removed.",
    email_invalid: "This is not a valid e-mail address.",
    email_unchanged: "This address is already your security e-mail.",
    email_taken: "This address is the security e-mail of another account.",
    email_delivery_failed: "The mail could not be sent. Please try again later.",
    email_invalid_link: "The confirmation link is not valid, expired or was used. Send a new one from your account page.",
    email_confirm_title: "Confirm the security e-mail",
    email_confirm_intro: "Please confirm this address as the security e-mail of the account:",
    email_confirm_button: "Confirm",
    email_confirmed: "The security e-mail is confirmed and can now be used to recover the password.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_rules() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("fr, zh-CN;q=0.5, en;q=0.4"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
        assert_eq!(Lang::from_ui_locales("de en zh"), Some(Lang::En));
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(EN.duration(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(ZH_CN.duration(Duration::from_millis(29_100)), "30秒");
    }
}

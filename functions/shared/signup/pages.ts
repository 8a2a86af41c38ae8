import * as z from 'zod';
import type { Branding } from '../branding.js';
import {
  accentStyles,
  logoSource,
  supportHref,
  type TextCatalogue,
  type Texts,
  textKeys,
  unknownTextOverrides,
  withOverrides,
} from './brand.js';

/**
 * The server-rendered pages of the sign-up flow, in Japanese and English. No front-end
 * framework: plain HTML with a small inline stylesheet that reads well on a phone. Every value
 * that reaches a page goes through `escapeHtml`. Every page is built by `layout`, which frames it
 * with the seller's brand (header, footer with support and AWS Marketplace links) and takes its
 * texts from `pageText`, where the seller's overrides apply: a page function takes the `Branding`
 * and `createPages` binds it once, so the app cannot render an unbranded page.
 */

export type Language = 'ja' | 'en';

/** Picks Japanese when the browser prefers it over English, English otherwise. */
export const languageFrom = (acceptLanguage: string | undefined): Language => {
  const preferences = (acceptLanguage ?? '')
    .split(',')
    .map((entry, index) => {
      const [tag = '', ...params] = entry.trim().toLowerCase().split(';');
      const q = Number(params.find((param) => param.trim().startsWith('q='))?.split('=')[1] ?? '1');
      return { tag, q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((preference) => preference.tag.startsWith('ja') || preference.tag.startsWith('en'))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return preferences[0]?.tag.startsWith('ja') ? 'ja' : 'en';
};

export const escapeHtml = (value: unknown): string =>
  String(value ?? '').replace(
    /[&<>"'`=/]/g,
    (character) =>
      ({
        '&': '&amp;',
        '<': '&lt;',
        '>': '&gt;',
        '"': '&quot;',
        "'": '&#39;',
        '`': '&#96;',
        '=': '&#61;',
        '/': '&#47;',
      })[character] ?? character,
  );

const text = {
  en: {
    title: 'Set up your account',
    intro: 'Thank you for subscribing through AWS Marketplace. Tell us who will administer your account.',
    tenantName: 'Company or team name',
    adminEmail: 'Administrator email',
    adminName: 'Administrator name',
    submit: 'Create my account',
    linkIntro: 'Already have an account with us?',
    buyerTenantIntro: 'Your AWS account already has an account with us for another subscription:',
    buyerTenantAction: 'Add this subscription to that account',
    buyerTenantOr: 'Or create a separate account:',
    linkAction: 'Link this subscription to my existing account',
    readyTitle: 'Your account is ready',
    readyBody:
      'We created your account. Sign in with the email address you entered; check your inbox for a temporary password.',
    preparingTitle: 'Your account is being prepared',
    preparingBody:
      'We created your account. AWS Marketplace is still confirming your subscription; your plan is applied as soon as it is confirmed. You can sign in now.',
    linkedTitle: 'Subscription linked',
    linkedBody: 'This subscription is now attached to your existing account.',
    signIn: 'Sign in',
    chooseTenantTitle: 'Choose the account to link',
    chooseTenantBody:
      'Pick the account this AWS Marketplace subscription should be attached to. Only the accounts you administer are listed.',
    link: 'Link',
    awsAccount: 'AWS account of this subscription',
    awsAccountHint: 'If this is not your AWS account, close this page: someone else started this sign-up.',
    signedInAs: 'Signed in as',
    linkConfirm:
      'I want to attach the AWS Marketplace subscription of AWS account {account} to the account selected above.',
    support: 'Contact support',
    terms: 'Terms of service',
    privacy: 'Privacy policy',
    marketplace: 'Return to AWS Marketplace',
    byline: 'by',
    billedThrough: 'Billed through AWS Marketplace.',
    errorHelp: 'If this keeps happening, contact support.',
    errors: {
      'bad-request': ['We could not read this request', 'Please start again from AWS Marketplace.'],
      'token-invalid': [
        'This link is no longer valid',
        'Return to AWS Marketplace and click "Set up your account" again.',
      ],
      'product-mismatch': [
        'This subscription is for another product',
        'Return to AWS Marketplace and check the product.',
      ],
      'session-expired': [
        'Your registration session has expired',
        'Return to AWS Marketplace and click "Set up your account" again.',
      ],
      'try-again': ['We are busy right now', 'Nothing was lost. Please try again in a minute.'],
      'method-not-allowed': ['This page cannot be used that way', 'Please start again from AWS Marketplace.'],
      'not-found': ['Page not found', 'Please start again from AWS Marketplace.'],
      forbidden: ['This request was refused', 'Reload the registration page and try again.'],
      'link-admin-required': [
        'Only a tenant administrator can link a subscription',
        'You signed in, but you are not an administrator of any account. Ask an administrator of the account to sign in and link this subscription. Nothing was changed.',
      ],
      'link-not-allowed': [
        'This subscription cannot be linked to that account',
        'Only an administrator of an account can link a subscription to it. Nothing was changed.',
      ],
      'link-restart': [
        'This sign-in cannot be used',
        'It was not started from this page, or it was already used. Nothing was changed. Go back to the registration page and choose "Link this subscription to my existing account" again.',
      ],
      'link-confirm-required': [
        'Please confirm the link',
        'Tick the confirmation box on the previous page to attach this subscription. Nothing was changed.',
      ],
      'tenant-already-linked': [
        'That account already has a subscription',
        'The account you chose is already attached to another AWS Marketplace subscription of this product. Nothing was changed. Choose another account or contact us; we have been notified.',
      ],
      internal: ['Something went wrong on our side', 'Please try again later. Nothing was charged twice.'],
      'seller-notified': [
        'We could not finish setting up your account',
        'The seller has been told and will complete it; you do not need to do anything. Nothing was charged twice.',
      ],
    },
    field: {
      tenantNameRequired: 'Enter your company or team name.',
      tenantNameTooLong: 'Use at most 100 characters.',
      adminEmailInvalid: 'Enter a valid email address, e.g. name@example.com.',
      adminNameRequired: "Enter the administrator's name.",
      adminNameTooLong: 'Use at most 64 characters.',
      invalidCharacters: 'Remove control characters.',
    },
  },
  ja: {
    title: 'アカウントの設定',
    intro: 'AWS Marketplace でのご購入ありがとうございます。アカウントの管理者を入力してください。',
    tenantName: '会社名またはチーム名',
    adminEmail: '管理者のメールアドレス',
    adminName: '管理者の氏名',
    submit: 'アカウントを作成',
    linkIntro: 'すでにアカウントをお持ちですか?',
    buyerTenantIntro: 'この AWS アカウントは、別のサブスクリプションですでにアカウントをお持ちです:',
    buyerTenantAction: 'このサブスクリプションをそのアカウントに追加する',
    buyerTenantOr: 'または、別のアカウントを作成します:',
    linkAction: 'このサブスクリプションを既存のアカウントに紐付ける',
    readyTitle: 'アカウントの準備ができました',
    readyBody:
      'アカウントを作成しました。入力したメールアドレスでサインインしてください。仮パスワードをメールでお送りしています。',
    preparingTitle: 'アカウントを準備しています',
    preparingBody:
      'アカウントを作成しました。AWS Marketplace での購入確認が完了し次第、プランを適用します。サインインは今すぐ可能です。',
    linkedTitle: 'サブスクリプションを紐付けました',
    linkedBody: 'このサブスクリプションは既存のアカウントに紐付けられました。',
    signIn: 'サインイン',
    chooseTenantTitle: '紐付けるアカウントを選択',
    chooseTenantBody:
      'この AWS Marketplace のサブスクリプションを紐付けるアカウントを選んでください。あなたが管理者であるアカウントのみ表示しています。',
    link: '紐付ける',
    awsAccount: 'このサブスクリプションの AWS アカウント',
    awsAccountHint:
      'ご自身の AWS アカウントでない場合は、このページを閉じてください。他の人が開始した登録です。',
    signedInAs: 'サインイン中のユーザー',
    linkConfirm:
      'AWS アカウント {account} の AWS Marketplace サブスクリプションを、上で選んだアカウントに紐付けます。',
    support: 'サポートに問い合わせる',
    terms: '利用規約',
    privacy: 'プライバシーポリシー',
    marketplace: 'AWS Marketplace に戻る',
    byline: '提供:',
    billedThrough: 'ご利用料金は AWS Marketplace を通じて請求されます。',
    errorHelp: '解決しない場合は、サポートにお問い合わせください。',
    errors: {
      'bad-request': ['リクエストを読み取れませんでした', 'AWS Marketplace からもう一度お試しください。'],
      'token-invalid': [
        'このリンクは有効期限が切れています',
        'AWS Marketplace に戻り、「アカウントを設定」をもう一度クリックしてください。',
      ],
      'product-mismatch': [
        '別の製品のサブスクリプションです',
        'AWS Marketplace に戻り、製品をご確認ください。',
      ],
      'session-expired': [
        '登録セッションの有効期限が切れました',
        'AWS Marketplace に戻り、「アカウントを設定」をもう一度クリックしてください。',
      ],
      'try-again': [
        'ただいま混み合っています',
        'データは失われていません。1 分ほどしてからもう一度お試しください。',
      ],
      'method-not-allowed': [
        'このページはその方法では利用できません',
        'AWS Marketplace からもう一度お試しください。',
      ],
      'not-found': ['ページが見つかりません', 'AWS Marketplace からもう一度お試しください。'],
      forbidden: [
        'リクエストを受け付けられませんでした',
        '登録ページを再読み込みしてもう一度お試しください。',
      ],
      'link-admin-required': [
        'サブスクリプションを紐付けられるのはテナント管理者のみです',
        'サインインしたユーザーは、どのアカウントの管理者でもありません。アカウントの管理者がサインインして、このサブスクリプションを紐付けてください。変更は行われていません。',
      ],
      'link-not-allowed': [
        'このアカウントにはサブスクリプションを紐付けられません',
        'サブスクリプションを紐付けられるのは、そのアカウントの管理者のみです。変更は行われていません。',
      ],
      'seller-notified': [
        'アカウントの設定を完了できませんでした',
        '販売者に通知済みで、販売者が設定を完了します。お客様の操作は不要です。二重に請求されることはありません。',
      ],
      'link-restart': [
        'このサインインは使用できません',
        'このページから開始されたものではないか、すでに使用されています。変更は行われていません。登録ページに戻り、「このサブスクリプションを既存のアカウントに紐付ける」をもう一度選んでください。',
      ],
      'link-confirm-required': [
        '紐付けの確認をしてください',
        '前のページで確認のチェックボックスを選択してから紐付けてください。変更は行われていません。',
      ],
      'tenant-already-linked': [
        'このアカウントにはすでにサブスクリプションがあります',
        '選んだアカウントは、この製品の別の AWS Marketplace サブスクリプションに紐付けられています。変更は行われていません。別のアカウントを選ぶか、お問い合わせください(担当者に通知済みです)。',
      ],
      internal: [
        'エラーが発生しました',
        'しばらくしてからもう一度お試しください。二重に請求されることはありません。',
      ],
    },
    field: {
      tenantNameRequired: '会社名またはチーム名を入力してください。',
      tenantNameTooLong: '100 文字以内で入力してください。',
      adminEmailInvalid: '有効なメールアドレスを入力してください(例: name@example.com)。',
      adminNameRequired: '管理者の氏名を入力してください。',
      adminNameTooLong: '64 文字以内で入力してください。',
      invalidCharacters: '制御文字を含めないでください。',
    },
  },
} as const satisfies Record<Language, TextCatalogue>;

export type ErrorPageKind = keyof (typeof text)['en']['errors'];
type FieldMessageKey = keyof (typeof text)['en']['field'];

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** The registration form; messages are keys into the page texts so they render in either language. */
export const registrationFormSchema = z.object({
  tenantName: z
    .string({ message: 'tenantNameRequired' })
    .trim()
    .min(1, 'tenantNameRequired')
    .max(100, 'tenantNameTooLong')
    .refine((value) => !CONTROL_CHARACTERS.test(value), 'invalidCharacters'),
  adminEmail: z
    .string({ message: 'adminEmailInvalid' })
    .trim()
    .max(254, 'adminEmailInvalid')
    .pipe(z.email({ message: 'adminEmailInvalid' })),
  adminName: z
    .string({ message: 'adminNameRequired' })
    .trim()
    .min(1, 'adminNameRequired')
    .max(64, 'adminNameTooLong')
    .refine((value) => !CONTROL_CHARACTERS.test(value), 'invalidCharacters'),
});

export type RegistrationForm = z.output<typeof registrationFormSchema>;
export type RegistrationFieldErrors = Partial<Record<keyof RegistrationForm, FieldMessageKey>>;

export const validateRegistrationForm = (
  fields: Map<string, string>,
): { ok: true; form: RegistrationForm } | { ok: false; errors: RegistrationFieldErrors } => {
  const result = registrationFormSchema.safeParse({
    tenantName: fields.get('tenantName'),
    adminEmail: fields.get('adminEmail'),
    adminName: fields.get('adminName'),
  });
  if (result.success) return { ok: true, form: result.data };
  const errors: RegistrationFieldErrors = {};
  for (const issue of result.error.issues) {
    const field = issue.path[0] as keyof RegistrationForm;
    const key = (issue.message in text.en.field ? issue.message : 'invalidCharacters') as FieldMessageKey;
    errors[field] ??= key;
  }
  return { ok: false, errors };
};

type PageText = Texts<(typeof text)['en']>;

const mergedTexts = new WeakMap<Branding, Record<Language, PageText>>();

/** The page texts in a language, with the seller's overrides (`branding.text`) applied. */
export const pageText = (lang: Language, brand: Branding): PageText => {
  let texts = mergedTexts.get(brand);
  if (!texts) {
    texts = {
      en: withOverrides(text.en, brand.text?.en) as PageText,
      ja: withOverrides(text.ja, brand.text?.ja) as PageText,
    };
    mergedTexts.set(brand, texts);
  }
  return texts[lang];
};

/** Every key a seller can override (`branding.text.<lang>.<key>`). */
export const pageTextKeys = (): string[] => textKeys(text.en);

/** Override keys no page uses, one config issue line each (the synth check). */
export const unknownPageTextOverrides = (brand: Branding): string[] => unknownTextOverrides(brand, text.en);

const brandHeader = (brand: Branding, t: PageText) => {
  const logo = logoSource(brand);
  return `<header class="brand"><div class="brand-inner">${
    logo ? `<img class="logo" src="${escapeHtml(logo)}" alt="" width="40" height="40">` : ''
  }<div><div class="product">${escapeHtml(brand.productName)}</div><div class="seller">${escapeHtml(t.byline)} ${escapeHtml(brand.sellerName)}</div></div></div></header>`;
};

const brandFooter = (brand: Branding, t: PageText) => {
  const links: [string, string, string][] = [
    ['support', supportHref(brand), t.support],
    ...(brand.termsUrl ? [['terms', brand.termsUrl, t.terms] as [string, string, string]] : []),
    ...(brand.privacyUrl ? [['privacy', brand.privacyUrl, t.privacy] as [string, string, string]] : []),
    ['marketplace', brand.marketplaceUrl, t.marketplace],
  ];
  return `<footer><nav>${links
    .map(
      ([name, href, label]) =>
        `<a data-link="${name}" href="${escapeHtml(href)}" rel="noopener noreferrer">${escapeHtml(label)}</a>`,
    )
    .join('<span aria-hidden="true"> · </span>')}</nav>
<p>© ${escapeHtml(brand.sellerName)} · ${escapeHtml(t.billedThrough)}</p></footer>`;
};

const layout = (lang: Language, brand: Branding, title: string, body: string): string => {
  const t = pageText(lang, brand);
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · ${escapeHtml(brand.productName)}</title>
<style>
${accentStyles(brand.accentColor)}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;background:#f4f6f8;color:#1d2630;display:flex;flex-direction:column;min-height:100vh}
header.brand{background:#fff;border-top:4px solid var(--accent);box-shadow:0 1px 2px rgba(0,0,0,.06)}
.brand-inner{max-width:34rem;margin:0 auto;padding:.9rem 1.25rem;display:flex;align-items:center;gap:.75rem}
.logo{width:40px;height:40px;object-fit:contain;flex:none}.product{font-weight:700;font-size:1.1rem;line-height:1.2}.seller{color:#5a6773;font-size:.85rem}
main{flex:1;width:100%;max-width:34rem;margin:0 auto;padding:2rem 1.25rem}.card{background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 .75rem}label{display:block;font-weight:600;margin:1rem 0 .25rem}a{color:var(--link)}
input[type=text],input[type=email]{width:100%;padding:.7rem;border:1px solid #b8c2cc;border-radius:8px;font:inherit}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
input[aria-invalid=true]{border-color:#c62828}.error{color:#c62828;font-size:.9rem;margin:.25rem 0 0}
button,.button{display:inline-block;margin-top:1.25rem;padding:.75rem 1.25rem;border:0;border-radius:8px;background:var(--accent);color:var(--on-accent);font:inherit;font-weight:600;text-decoration:none;cursor:pointer}
.button.secondary{background:#fff;color:#1d2630;border:1px solid #b8c2cc}.actions{display:flex;flex-wrap:wrap;gap:0 .75rem}
.muted{color:#5a6773;font-size:.95rem}ul.tenants{list-style:none;padding:0}ul.tenants li{margin:.5rem 0}
.account{background:#eef3f8;border-radius:8px;padding:.75rem}label.choice{display:flex;gap:.5rem;align-items:flex-start;font-weight:400;margin:0}
footer{max-width:44rem;width:100%;margin:0 auto;padding:0 1.25rem 2rem;color:#5a6773;font-size:.85rem;text-align:center}
footer nav{display:flex;flex-wrap:wrap;justify-content:center;gap:.25rem .5rem}footer p{margin:.5rem 0 0}
</style>
</head>
<body>
${brandHeader(brand, t)}
<main><div class="card">${body}</div></main>
${brandFooter(brand, t)}
</body>
</html>`;
};

export interface RegistrationPageInput {
  lang: Language;
  brand: Branding;
  /** Path prefix of the sign-up routes ('' behind API Gateway). */
  basePath?: string;
  csrfToken: string;
  values?: Partial<Record<keyof RegistrationForm, string>>;
  errors?: RegistrationFieldErrors;
  /** Where "link to my existing account" starts; omitted hides the option. */
  linkUrl?: string;
  /** The buyer's AWS account, shown so a session someone else started is visible. */
  awsAccountId?: string | undefined;
  /** The account this AWS account already holds for another product: offered to add the subscription to. */
  buyerTenant?: { name: string } | undefined;
}

/** "AWS account of this subscription: 123456789012", with what to do if it is not yours. */
const awsAccountNotice = (t: PageText, awsAccountId: string | undefined): string => {
  if (!awsAccountId) return '';
  return `<p class="account">${escapeHtml(t.awsAccount)}: <strong>${escapeHtml(awsAccountId)}</strong><br><span class="muted">${escapeHtml(t.awsAccountHint)}</span></p>`;
};

/** The registration form's `attach` value: add the subscription to the buyer's account of another product. */
export const BUYER_TENANT_CHOICE = 'buyer-tenant';

export const registrationPage = ({
  lang,
  brand,
  basePath = '',
  csrfToken,
  values = {},
  errors = {},
  linkUrl,
  awsAccountId,
  buyerTenant,
}: RegistrationPageInput) => {
  const t = pageText(lang, brand);
  const field = (name: keyof RegistrationForm, type: 'text' | 'email', autocomplete: string) => {
    const error = errors[name];
    return `<label for="${name}">${escapeHtml(t[name])}</label>
<input id="${name}" name="${name}" type="${type}" autocomplete="${autocomplete}" required value="${escapeHtml(values[name] ?? '')}"${
      error ? ` aria-invalid="true" aria-describedby="${name}-error"` : ''
    }>${error ? `\n<p class="error" id="${name}-error">${escapeHtml(t.field[error])}</p>` : ''}`;
  };
  return layout(
    lang,
    brand,
    t.title,
    `<h1>${escapeHtml(t.title)}</h1>
<p class="muted">${escapeHtml(t.intro)}</p>
${awsAccountNotice(t, awsAccountId)}${
  buyerTenant
    ? `<form method="post" action="${escapeHtml(`${basePath}/register`)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">
<input type="hidden" name="attach" value="${BUYER_TENANT_CHOICE}">
<p>${escapeHtml(t.buyerTenantIntro)} <strong>${escapeHtml(buyerTenant.name)}</strong></p>
<button type="submit">${escapeHtml(t.buyerTenantAction)}</button>
</form>
<p class="muted">${escapeHtml(t.buyerTenantOr)}</p>
`
    : ''
}
<form method="post" action="${escapeHtml(`${basePath}/register`)}" novalidate>
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">
${field('tenantName', 'text', 'organization')}
${field('adminEmail', 'email', 'email')}
${field('adminName', 'text', 'name')}
<button type="submit">${escapeHtml(t.submit)}</button>
</form>${
      linkUrl
        ? `\n<p class="muted">${escapeHtml(t.linkIntro)} <a href="${escapeHtml(linkUrl)}">${escapeHtml(t.linkAction)}</a></p>`
        : ''
    }`,
  );
};

export const finishPage = ({
  lang,
  brand,
  outcome,
  signInUrl,
}: {
  lang: Language;
  brand: Branding;
  outcome: 'ready' | 'preparing' | 'linked';
  signInUrl: string;
}) => {
  const t = pageText(lang, brand);
  const outcomes: Record<typeof outcome, readonly [string, string]> = {
    ready: [t.readyTitle, t.readyBody],
    preparing: [t.preparingTitle, t.preparingBody],
    linked: [t.linkedTitle, t.linkedBody],
  };
  const [title, body] = outcomes[outcome];
  return layout(
    lang,
    brand,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(body)}</p>
<a class="button" href="${escapeHtml(signInUrl)}">${escapeHtml(t.signIn)}</a>`,
  );
};

export const tenantChoicePage = ({
  lang,
  brand,
  basePath = '',
  csrfToken,
  tenants,
  signedInAs,
  awsAccountId,
}: {
  lang: Language;
  brand: Branding;
  basePath?: string;
  csrfToken: string;
  tenants: readonly { id: string; name: string }[];
  /** The SaaSus user who signed in (their email). */
  signedInAs: string;
  /** The AWS account whose subscription is being linked. */
  awsAccountId?: string | undefined;
}) => {
  const t = pageText(lang, brand);
  const items = tenants
    .map(
      (tenant, index) =>
        `<li><label class="choice"><input name="tenantId" value="${escapeHtml(tenant.id)}" type="radio" required${
          index === 0 ? ' checked' : ''
        }> ${escapeHtml(tenant.name)}</label></li>`,
    )
    .join('\n');
  const [before, after] = t.linkConfirm.split('{account}');
  return layout(
    lang,
    brand,
    t.chooseTenantTitle,
    `<h1>${escapeHtml(t.chooseTenantTitle)}</h1>
<p>${escapeHtml(t.signedInAs)}: <strong>${escapeHtml(signedInAs)}</strong></p>
${awsAccountNotice(t, awsAccountId)}
<p class="muted">${escapeHtml(t.chooseTenantBody)}</p>
<form method="post" action="${escapeHtml(`${basePath}/link`)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">
<ul class="tenants">
${items}
</ul>
<label class="choice"><input type="checkbox" name="confirm" value="yes" required> <span>${escapeHtml(before)}<strong>${escapeHtml(awsAccountId ?? '')}</strong>${escapeHtml(after)}</span></label>
<button type="submit">${escapeHtml(t.link)}</button>
</form>`,
  );
};

/** An error page: what happened, and the ways on (back to AWS Marketplace, support). */
export const errorPage = (lang: Language, kind: ErrorPageKind, brand: Branding) => {
  const t = pageText(lang, brand);
  const [title, body] = t.errors[kind];
  return layout(
    lang,
    brand,
    title,
    `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(body)}</p>
<p class="actions"><a class="button" data-action="marketplace" href="${escapeHtml(brand.marketplaceUrl)}">${escapeHtml(t.marketplace)}</a><a class="button secondary" data-action="support" href="${escapeHtml(supportHref(brand))}">${escapeHtml(t.support)}</a></p>
<p class="muted">${escapeHtml(t.errorHelp)}</p>`,
  );
};

type WithoutBrand<F> = F extends (input: infer I) => string ? (input: Omit<I, 'brand'>) => string : never;

/** The pages with the seller's brand bound, as the app uses them. */
export const createPages = (brand: Branding) => ({
  registrationPage: ((input) => registrationPage({ ...input, brand })) as WithoutBrand<
    typeof registrationPage
  >,
  finishPage: ((input) => finishPage({ ...input, brand })) as WithoutBrand<typeof finishPage>,
  tenantChoicePage: ((input) => tenantChoicePage({ ...input, brand })) as WithoutBrand<
    typeof tenantChoicePage
  >,
  errorPage: (lang: Language, kind: ErrorPageKind) => errorPage(lang, kind, brand),
});

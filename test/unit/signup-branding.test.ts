import { describe, expect, it } from 'vitest';
import type { Branding } from '#shared/branding';
import { parseDeploymentConfig } from '#shared/config';
import { accentStyles, logoImageSource, textKeys } from '#shared/signup/brand';
import { createPages, type ErrorPageKind, unknownPageTextOverrides } from '#shared/signup/pages';
import { exampleConfigInput } from '../support/config.js';

const brandWith = (changes: Record<string, unknown>): Branding => {
  const input = exampleConfigInput() as Record<string, unknown>;
  const branding = { ...(input.branding as Record<string, unknown>), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete branding[key];
  input.branding = branding;
  return parseDeploymentConfig(input).branding;
};

const errorKinds: ErrorPageKind[] = [
  'bad-request',
  'token-invalid',
  'session-expired',
  'try-again',
  'not-found',
  'forbidden',
  'link-admin-required',
  'internal',
];

/** Every page the sign-up flow renders, in one language. */
const everyPage = (brand: Branding, lang: 'en' | 'ja') => {
  const pages = createPages(brand);
  return [
    pages.registrationPage({ lang, csrfToken: 't', linkUrl: '/link' }),
    pages.finishPage({ lang, outcome: 'ready', signInUrl: 'https://app.example.com/in' }),
    pages.tenantChoicePage({
      lang,
      csrfToken: 't',
      tenants: [{ id: '1', name: 'Acme' }],
      signedInAs: 'admin@example.com',
      awsAccountId: '123456789012',
    }),
    ...errorKinds.map((kind) => pages.errorPage(lang, kind)),
  ];
};

describe('branded pages', () => {
  it('show the product, the seller, support and the way back to AWS Marketplace on every page', () => {
    const brand = brandWith({ productName: 'Acme Insight', sellerName: 'Acme KK' });
    for (const lang of ['en', 'ja'] as const) {
      for (const html of everyPage(brand, lang)) {
        expect(html).toContain('<div class="product">Acme Insight</div>');
        expect(html).toContain('Acme KK');
        expect(html).toMatch(/<title>[^<]+ · Acme Insight<\/title>/);
        expect(html).toContain(`data-link="support" href="https:&#47;&#47;www.example.com&#47;support"`);
        expect(html).toContain('data-link="marketplace" href="https:&#47;&#47;console.aws.amazon.com');
        expect(html).toContain('data-link="terms"');
        expect(html).toContain('data-link="privacy"');
      }
    }
  });

  it('give every error page a button back to AWS Marketplace and one to support', () => {
    const brand = brandWith({
      supportUrl: undefined,
      marketplaceUrl: 'https://aws.amazon.com/marketplace/pp/prodview-abc',
    });
    const html = createPages(brand).errorPage('ja', 'token-invalid');
    expect(html).toContain(
      'data-action="marketplace" href="https:&#47;&#47;aws.amazon.com&#47;marketplace&#47;pp&#47;prodview-abc">AWS Marketplace に戻る</a>',
    );
    expect(html).toContain(
      'data-action="support" href="mailto:support@example.com">サポートに問い合わせる</a>',
    );
  });

  it('escape every brand text, so markup in them is shown, never run', () => {
    const hostile = '<script>window.pwned=1</script><img src=x onerror=alert(1)>';
    const brand = brandWith({
      productName: hostile.slice(0, 80),
      sellerName: `"><script>1</script>`,
      text: { en: { title: hostile, 'errors.internal.body': hostile }, ja: { support: hostile } },
    });
    for (const lang of ['en', 'ja'] as const) {
      for (const html of everyPage(brand, lang)) {
        expect(html).not.toMatch(/<script|<img src=x|onerror=/i);
      }
    }
    expect(createPages(brand).errorPage('en', 'internal')).toContain('&lt;script&gt;window.pwned&#61;1');
  });

  it('render an inline SVG logo as an image, never as markup, and the CSP lets exactly it load', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>';
    const brand = brandWith({ logoSvg: svg });
    const html = createPages(brand).finishPage({
      lang: 'en',
      outcome: 'ready',
      signInUrl: 'https://a.example',
    });
    expect(html).not.toContain('<svg');
    const src = (/<img class="logo" src="([^"]+)"/.exec(html)?.[1] ?? '').replace(/&#(\d+);/g, (_, code) =>
      String.fromCharCode(Number(code)),
    );
    expect(src.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(Buffer.from(src.split(',')[1] ?? '', 'base64').toString('utf8')).toBe(svg);
    expect(logoImageSource(brand)).toBe('data:');

    const hosted = brandWith({ logoSvg: undefined, logoUrl: 'https://cdn.example.com/brand/logo.png' });
    expect(logoImageSource(hosted)).toBe('https://cdn.example.com/brand/logo.png');
    expect(createPages(hosted).errorPage('en', 'internal')).toContain(
      'src="https:&#47;&#47;cdn.example.com&#47;brand&#47;logo.png"',
    );
    const none = brandWith({ logoSvg: undefined });
    expect(logoImageSource(none)).toBeUndefined();
    expect(createPages(none).errorPage('en', 'internal')).not.toContain('<img');
  });

  it('apply the seller text overrides per language and leave the rest', () => {
    const brand = brandWith({
      text: {
        en: { title: 'Welcome to Acme', 'errors.token-invalid.title': 'Link expired' },
        ja: { title: 'Acme へようこそ' },
      },
    });
    const pages = createPages(brand);
    expect(pages.registrationPage({ lang: 'en', csrfToken: 't' })).toContain('<h1>Welcome to Acme</h1>');
    expect(pages.registrationPage({ lang: 'ja', csrfToken: 't' })).toContain('<h1>Acme へようこそ</h1>');
    expect(pages.errorPage('en', 'token-invalid')).toContain('<h1>Link expired</h1>');
    expect(pages.errorPage('ja', 'token-invalid')).toContain('<h1>このリンクは有効期限が切れています</h1>');
    expect(pages.finishPage({ lang: 'en', outcome: 'ready', signInUrl: 'https://a.example' })).toContain(
      '<h1>Your account is ready</h1>',
    );
  });

  it('name override keys no page uses (the synth check)', () => {
    const brand = brandWith({
      text: { en: { title: 'ok', titel: 'typo' }, ja: { 'errors.nope.title': 'x' } },
    });
    expect(unknownPageTextOverrides(brand)).toEqual([
      'branding.text.en.titel: not a page text key (see docs/seller-guide.md#page-texts)',
      'branding.text.ja.errors.nope.title: not a page text key (see docs/seller-guide.md#page-texts)',
    ]);
    expect(textKeys({ a: 'x', errors: { e: ['t', 'b'] } })).toEqual(['a', 'errors.e.title', 'errors.e.body']);
  });

  it('keep text on the accent readable: dark text on a light accent, links fall back to dark blue', () => {
    expect(accentStyles('#ffd400')).toBe(':root{--accent:#ffd400;--on-accent:#111111;--link:#0b4f94}');
    expect(accentStyles('#0f766e')).toBe(':root{--accent:#0f766e;--on-accent:#ffffff;--link:#0f766e}');
    expect(accentStyles('#fff')).toContain('--on-accent:#111111');
  });
});

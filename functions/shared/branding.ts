import * as z from 'zod';

/**
 * The seller's brand on the buyer-facing pages: names, logo, colour, support and legal links, and
 * text overrides. Validated at synth like the rest of the config (`config.ts` embeds it); the
 * sign-up pages escape every value, and the logo only ever renders as an `<img>`, so nothing here
 * can run script in a buyer's browser.
 */

/** Characters that would end an HTML attribute, a CSP source list or a CSS value early. */
const UNSAFE_URL_CHARACTERS = /[\s"'<>`;,\\]/;

const brandText = (what: string, max: number) =>
  z
    .string({ message: `expected ${what}` })
    .trim()
    .min(1, `expected ${what}, got an empty string`)
    .max(max, `expected ${what} of at most ${max} characters`);

const httpsUrl = (what: string) =>
  z
    .string({ message: `expected ${what} (an https:// URL)` })
    .max(2000, `expected ${what} of at most 2000 characters`)
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          return url.protocol === 'https:' && url.hostname.length > 0 && !url.username && !url.password;
        } catch {
          return false;
        }
      },
      { message: `expected ${what} as an https:// URL`, abort: true },
    )
    .refine(
      (value) => !UNSAFE_URL_CHARACTERS.test(value),
      `expected ${what} without spaces, quotes, angle brackets, semicolons or commas (percent-encode them)`,
    );

/** An SVG document: a root `<svg>` element, nothing that scripts or loads other content. */
const svgLogo = z
  .string()
  .trim()
  .max(50_000, 'expected an inline SVG logo of at most 50,000 characters (use logoUrl for larger images)')
  .refine((value) => /^(<\?xml[^>]*\?>\s*)?<svg[\s>]/i.test(value) && /<\/svg>$/i.test(value), {
    message: 'expected an inline SVG document, <svg ...>...</svg>',
    abort: true,
  })
  .refine(
    (value) => !/<script|<foreignobject|\son[a-z]+\s*=|javascript:|<!entity/i.test(value),
    'an SVG logo must not contain scripts, event handlers, javascript: links, foreignObject or entities',
  );

const accentColor = z
  .string()
  .regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'expected a hex colour such as #0b5cad or #06c');

const textOverrides = z.record(
  z.string().regex(/^[a-zA-Z][a-zA-Z0-9.-]{0,80}$/, 'expected a page text key such as "title"'),
  brandText('a text', 1000),
  { message: 'expected an object mapping page text keys to texts' },
);

export const brandingSchema = z
  .strictObject({
    /** The product's name as the buyer knows it from the listing. */
    productName: brandText('the product name', 80),
    /** The seller's (company) name. */
    sellerName: brandText('the seller name', 80),
    /** Logo image over HTTPS; the page's Content-Security-Policy allows exactly this URL. */
    logoUrl: httpsUrl('the logo URL').optional(),
    /** Inline SVG logo, rendered as an image (a data: URI), never as markup. */
    logoSvg: svgLogo.optional(),
    /** Colour of the header bar, buttons and links. */
    accentColor: accentColor.default('#0b5cad'),
    supportEmail: z.email({ message: 'expected the support email address' }).max(254).optional(),
    supportUrl: httpsUrl('the support URL').optional(),
    termsUrl: httpsUrl('the terms of service URL').optional(),
    privacyUrl: httpsUrl('the privacy policy URL').optional(),
    /** Where "Return to AWS Marketplace" goes; the buyer's subscriptions page by default. */
    marketplaceUrl: httpsUrl('the AWS Marketplace URL').default(
      'https://console.aws.amazon.com/marketplace/home#/subscriptions',
    ),
    /** Per-language replacements of the page texts, by key (`title`, `errors.token-invalid.body`, ...). */
    text: z.strictObject({ en: textOverrides.optional(), ja: textOverrides.optional() }).optional(),
  })
  .superRefine((branding, ctx) => {
    if (branding.logoUrl && branding.logoSvg) {
      ctx.addIssue({ code: 'custom', path: ['logoSvg'], message: 'set logoUrl or logoSvg, not both' });
    }
    if (!branding.supportEmail && !branding.supportUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['supportUrl'],
        message: 'required: a supportUrl or a supportEmail, so every page (errors included) offers help',
      });
    }
  });

export type Branding = z.output<typeof brandingSchema>;

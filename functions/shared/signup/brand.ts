import type { Branding } from '../branding.js';

/**
 * The seller's brand around every sign-up page: the header (logo, product, seller), the footer
 * (support, terms, privacy, AWS Marketplace), the accent colour, the image source the
 * Content-Security-Policy allows (exactly the configured logo), and the seller's text overrides. `pages.ts` builds every
 * page inside this frame, so a new page is branded by construction.
 */

/** Leaf texts of a page-text catalogue: strings, and `[title, body]` pairs. */
export type TextCatalogue = { readonly [key: string]: string | readonly [string, string] | TextCatalogue };

/** The catalogue with its literal types widened, as overrides make it. */
export type Texts<T> = {
  readonly [K in keyof T]: T[K] extends string
    ? string
    : T[K] extends readonly [string, string]
      ? readonly [string, string]
      : Texts<T[K]>;
};

const PAIR_KEYS = ['title', 'body'] as const;

const walk = (
  node: TextCatalogue[string],
  key: string,
  visit: (key: string, value: string) => string,
): TextCatalogue[string] => {
  if (typeof node === 'string') return visit(key, node);
  if (Array.isArray(node)) {
    const [title, body] = node as readonly [string, string];
    return [visit(`${key}.${PAIR_KEYS[0]}`, title), visit(`${key}.${PAIR_KEYS[1]}`, body)] as const;
  }
  return Object.fromEntries(
    Object.entries(node).map(([child, value]) => [
      child,
      walk(value, key ? `${key}.${child}` : child, visit),
    ]),
  );
};

/** Every overridable key of a catalogue: `title`, `field.adminNameRequired`, `errors.not-found.body`, ... */
export const textKeys = (catalogue: TextCatalogue): string[] => {
  const keys: string[] = [];
  walk(catalogue, '', (key, value) => {
    keys.push(key);
    return value;
  });
  return keys;
};

/** The catalogue with the seller's overrides (by key) applied. */
export const withOverrides = <T extends TextCatalogue>(
  catalogue: T,
  overrides: Readonly<Record<string, string>> | undefined,
): Texts<T> =>
  (overrides ? walk(catalogue, '', (key, value) => overrides[key] ?? value) : catalogue) as Texts<T>;

/** Override keys the catalogue does not have, as config issue lines (checked at synth). */
export const unknownTextOverrides = (branding: Branding, catalogue: TextCatalogue): string[] => {
  const known = new Set(textKeys(catalogue));
  return (['en', 'ja'] as const).flatMap((lang) =>
    Object.keys(branding.text?.[lang] ?? {})
      .filter((key) => !known.has(key))
      .map(
        (key) => `branding.text.${lang}.${key}: not a page text key (see docs/seller-guide.md#page-texts)`,
      ),
  );
};

/** The CSP `img-src` the logo needs: exactly its URL, `data:` for an inline SVG, none without a logo. */
export const logoImageSource = (branding: Branding): string | undefined =>
  branding.logoUrl ?? (branding.logoSvg ? 'data:' : undefined);

const channels = (hex: string): [number, number, number] => {
  const digits = hex.length === 4 ? [...hex.slice(1)].map((digit) => digit + digit).join('') : hex.slice(1);
  return [0, 2, 4].map((offset) => Number.parseInt(digits.slice(offset, offset + 2), 16) / 255) as [
    number,
    number,
    number,
  ];
};

/** WCAG relative luminance of a `#rgb`/`#rrggbb` colour. */
const luminance = (hex: string): number => {
  const [r, g, b] = channels(hex).map((channel) =>
    channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4,
  ) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

/**
 * CSS variables for the accent: text on the accent is white or near-black, whichever reads better;
 * links use the accent only where it reaches 4.5:1 on white (WCAG AA), a dark blue otherwise.
 */
export const accentStyles = (accent: string): string => {
  const level = luminance(accent);
  const onAccent = contrast(level, 1) >= contrast(level, luminance('#111111')) ? '#ffffff' : '#111111';
  const link = contrast(level, 1) >= 4.5 ? accent : '#0b4f94';
  return `:root{--accent:${accent};--on-accent:${onAccent};--link:${link}}`;
};

/** The `src` of the logo image: the configured URL, or the inline SVG as a data: URI (inert as an image). */
export const logoSource = (branding: Branding): string | undefined =>
  branding.logoUrl ??
  (branding.logoSvg
    ? `data:image/svg+xml;base64,${Buffer.from(branding.logoSvg, 'utf8').toString('base64')}`
    : undefined);

/** Where "Contact support" goes: the support page, else a mail to the support address. */
export const supportHref = (branding: Branding): string =>
  branding.supportUrl ?? `mailto:${branding.supportEmail ?? ''}`;

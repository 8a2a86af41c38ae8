import httpSecurityHeaders from '@middy/http-security-headers';
import type { Branding } from '../branding.js';
import { logoImageSource } from './brand.js';

/**
 * The sign-up pages' security headers: middy's (helmet's) set, with the page policy our pages
 * need. They are plain HTML forms posting to this origin: inline styles, no scripts, no frames,
 * and no image but the seller's configured logo.
 */

/** Directives of the middleware's default policy that we drop (false removes one; its types say string). */
const dropped = {
  // A sandboxed page would post its forms from an opaque origin, without the session cookie.
  sandbox: false,
  // Nothing to report to; the sandbox (`npm start`) serves the pages over plain HTTP on 127.0.0.1.
  'report-to': false,
  'upgrade-insecure-requests': false,
  // Not a CSP directive any browser ships; if one did, it would block our 303s.
  'navigate-to': false,
};

export const securityHeaders = (branding: Branding) => {
  const logo = logoImageSource(branding);
  return httpSecurityHeaders({
    contentSecurityPolicy: {
      ...(dropped as unknown as Record<string, string>),
      ...(logo ? { 'img-src': logo } : {}),
      'style-src': "'unsafe-inline'",
      'form-action': "'self'",
    },
    strictTransportSecurity: { maxAge: 365 * 24 * 60 * 60, includeSubDomains: true, preload: false },
    // Preloading, cross-origin embedding rules and legacy XSS filters are the seller's site's
    // decisions (a branded page may show an image from the seller's own domain).
    crossOriginEmbedderPolicy: false,
    xssProtection: false,
    reportTo: false,
    reportingEndpoints: false,
    poweredBy: false,
  } as Parameters<typeof httpSecurityHeaders>[0]);
};

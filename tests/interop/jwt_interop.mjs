// jwt_interop.mjs — the auth-gateway's tokens against `jose`, an independent
// JOSE implementation.
//
//   node jwt_interop.mjs <gateway URL> <access token>
//
// 1. The gateway's token verifies with jose against the gateway's JWKS, with
//    ES256 as the only algorithm and our iss/aud.
// 2. Tokens forged with jose — alg "none", ES256 under our kid with a key of
//    our own, and HS256 keyed with the gateway's public key (as PEM, and as
//    the raw JWK) — are each sent to the gateway, which must refuse them.
// Prints one JSON object with every outcome; exits 0 when all held.
import * as jose from "jose";

const [gateway, token] = process.argv.slice(2);
if (!gateway || !token) {
  console.error("usage: node jwt_interop.mjs <gateway URL> <access token>");
  process.exit(2);
}
const ISS = process.env.JWT_ISSUER || "serphona-auth-gateway";
const AUD = process.env.JWT_AUDIENCE || "serphona-api";
const out = { verified: false, forged: {} };

const jwks = await (await fetch(`${gateway}/.well-known/jwks.json`)).json();
const keySet = jose.createLocalJWKSet(jwks);
const { payload, protectedHeader } = await jose.jwtVerify(token, keySet, {
  issuer: ISS, audience: AUD, algorithms: ["ES256"],
});
out.verified = protectedHeader.alg === "ES256" && typeof protectedHeader.kid === "string";
out.claims = payload;

const kid = protectedHeader.kid;
const jwk = jwks.keys.find((k) => k.kid === kid);
const publicPem = await jose.exportSPKI(await jose.importJWK(jwk, "ES256"));
// The same claims, freshly dated, so only the forgery itself can fail them.
const now = Math.floor(Date.now() / 1000);
const claims = { ...payload, iat: now, exp: now + 600 };

const forged = {};
forged.alg_none = new jose.UnsecuredJWT(claims).encode();
const { privateKey } = await jose.generateKeyPair("ES256");
forged.wrong_key = await new jose.SignJWT(claims)
  .setProtectedHeader({ alg: "ES256", typ: "JWT", kid }).sign(privateKey);
forged.hs256_public_pem = await new jose.SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT", kid })
  .sign(new TextEncoder().encode(publicPem));
forged.hs256_public_jwk = await new jose.SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT", kid })
  .sign(new TextEncoder().encode(JSON.stringify(jwk)));

let ok = out.verified;
for (const [name, t] of Object.entries(forged)) {
  const resp = await fetch(`${gateway}/v1/auth/me`, { headers: { Authorization: `Bearer ${t}` } });
  const body = await resp.json().catch(() => ({}));
  const code = body?.error?.code ?? null;
  out.forged[name] = { status: resp.status, code };
  if (resp.status !== 401 || code !== "invalid_token") ok = false;
}
// The genuine token is still accepted by the gateway (so the refusals above
// are about the forgeries).
const genuine = await fetch(`${gateway}/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } });
out.genuine_status = genuine.status;
if (genuine.status !== 200) ok = false;

console.log(JSON.stringify(out));
process.exit(ok ? 0 : 1);

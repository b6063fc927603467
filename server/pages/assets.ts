// The PSU pages' stylesheet, served from this server (`/assets/psu.css`): no external asset, no
// inline style, so the CSP can stay at 'self'. Colours meet WCAG AA contrast on white; the bank's
// primary colour (BANK_PRIMARY_COLOR, checked against white text at start-up) is its one variable.

/** The primary colour when the bank sets none. */
export const DEFAULT_PRIMARY = '#0b4f8a';

/** The stylesheet for a primary colour already validated as `#rrggbb`. */
export function psuStylesheet(primary: string = DEFAULT_PRIMARY): string {
  if (!/^#[0-9a-fA-F]{6}$/.test(primary)) throw new Error(`not a #rrggbb colour: ${primary}`);
  return `:root{--primary:${primary}}\n${PSU_CSS}`;
}

const PSU_CSS = `*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:100%;line-height:1.5;color:#1a1a1a;background:#f3f5f8}
body{margin:0}
.bank{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.25rem 1rem;background:var(--primary);color:#fff;padding:.5rem 1rem}
.bank-id{display:flex;align-items:center;gap:.6rem;font-weight:600;font-size:1.05rem;min-height:44px}
.bank-logo{height:32px;width:auto;max-width:160px;background:#fff;border-radius:.25rem;padding:2px}
.bank-nav{display:flex;flex-wrap:wrap;gap:0 1.25rem}
.bank-nav a{color:#fff;display:inline-block;padding:.6rem 0;text-underline-offset:.2em}
.bank :focus-visible{outline-color:#fff}
main{max-width:36rem;margin:1.5rem auto;padding:1.5rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4rem;line-height:1.3;margin:0 0 1rem}
.tpp{margin-bottom:1rem}
.tpp-head{display:flex;align-items:center;gap:.75rem}
.tpp img{width:48px;height:48px;object-fit:contain;border:1px solid #d0d5dd;border-radius:.25rem;flex:none}
.tpp-name{font-size:1.15rem;margin:0;overflow-wrap:anywhere}
.verified{margin:.75rem 0 0;padding:.5rem .75rem;border:1px solid #9ec5a8;border-left:4px solid #1d6b35;border-radius:.25rem;background:#f1f8f3}
.verified-title{margin:0 0 .25rem;font-weight:600;color:#14532d;font-size:.9rem}
.verified-title::before{content:"\\2713\\00a0"}
.verified dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .75rem;margin:0;font-size:.95rem}
.verified dt{color:#404040}
.verified dd{margin:0;overflow-wrap:anywhere}
.tpp-links{list-style:none;padding:0;margin:.5rem 0 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem}
.tpp-links a{color:var(--primary)}
.host{display:inline-block;color:#404040;font-size:.85rem;overflow-wrap:anywhere}
ul.scopes{padding-left:1.25rem}
.notice{background:#fff4ce;border-left:4px solid #8a6d00;padding:.5rem .75rem;margin:0 0 1rem}
.alert{background:#fde7e9;border-left:4px solid #a4262c;color:#5c0a0e;padding:.5rem .75rem;margin:0 0 1rem}
fieldset{border:1px solid #d0d5dd;border-radius:.375rem;margin:0 0 1rem;padding:.75rem}
legend{font-weight:600;padding:0 .25rem}
.choice{display:flex;align-items:flex-start;gap:.5rem;padding:.35rem 0}
.choice input{margin-top:.3rem;width:1.1rem;height:1.1rem}
.accounts{margin:.25rem 0 .5rem 1.6rem}
.iban{font-family:ui-monospace,monospace;color:#404040;font-size:.9rem}
label.field{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;padding:.6rem;font-size:1rem;border:1px solid #6b7280;border-radius:.25rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.25rem}
button{font-family:inherit;font-size:1rem;padding:.7rem 1.2rem;border-radius:.375rem;border:2px solid var(--primary);cursor:pointer;min-height:44px}
button.primary{background:var(--primary);color:#fff}
button.secondary{background:#fff;color:var(--primary)}
button:hover{filter:brightness(1.1)}
:focus-visible{outline:3px solid #c75000;outline-offset:2px}
.way-out{margin-top:1.5rem;border-top:1px solid #d0d5dd;padding-top:1rem}
button.link{background:none;border:none;color:var(--primary);text-decoration:underline;padding:.5rem 0;min-height:44px}
dl.payment{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;align-items:baseline;margin:0 0 1rem}
dl.payment dt{font-weight:600}
dl.payment dd{margin:0}
dd.amount{font-size:1.3rem;font-weight:700}
fieldset.debtor .choice input{flex:none}
fieldset.debtor .choice label{line-height:1.4}
.owner{font-weight:600}
a.button{display:inline-block;padding:.7rem 1.2rem;border:2px solid var(--primary);border-radius:.375rem;color:var(--primary)}
.small{font-size:.9rem;color:#404040}
@media (max-width:40rem){main{margin:0;border-radius:0;box-shadow:none}.actions button{flex:1 1 100%}.verified dl{grid-template-columns:1fr}.verified dd{margin-bottom:.25rem}}
@media (max-width:40rem){dl.payment{grid-template-columns:1fr;gap:0}dl.payment dd{margin-bottom:.6rem}fieldset.debtor{padding:.5rem}fieldset.debtor .iban{font-size:.85rem}}
h2{font-size:1.2rem;line-height:1.3;margin:1.75rem 0 .75rem}
h3{font-size:1.05rem;margin:1.25rem 0 .5rem}
ul.cards{list-style:none;padding:0;margin:0 0 1rem;display:grid;gap:.75rem}
.card{border:1px solid #d0d5dd;border-radius:.375rem;padding:.75rem 1rem;margin:0 0 1rem}
ul.cards .card{margin:0}
.card.ended{background:#f8f9fb}
dl.facts{display:grid;grid-template-columns:minmax(7rem,38%) minmax(0,1fr);gap:.3rem 1rem;margin:0 0 .75rem}
dl.facts dt{font-weight:600;color:#404040}
dl.facts dd{margin:0;overflow-wrap:anywhere}
ul.plain{list-style:none;padding:0;margin:0}
a.button{text-decoration:none;font-size:1rem;min-height:44px;line-height:1.5}
.actions.equal form{flex:1 1 12rem;margin:0}
.actions.equal form button{width:100%}
@media (max-width:40rem){dl.facts{grid-template-columns:1fr;gap:0}dl.facts dd{margin-bottom:.4rem}.card a.button{display:block;text-align:center}}
`;

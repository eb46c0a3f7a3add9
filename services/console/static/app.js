// The console's shell: routing by the address's fragment (#/cases, #/case/{uscc},
// #/regions), sign-in state, the language switch and the header.

import { clearToken, token } from './api.js';
import { h } from './dom.js';
import { closeDrawer, initDrawer } from './drawer.js';
import { lang, setLang, t } from './i18n.js';
import { renderCaseFile } from './views/casefile.js';
import { renderCases } from './views/cases.js';
import { renderRegions } from './views/regions.js';
import { renderSignin } from './views/signin.js';

const main = document.getElementById('main');
let generation = 0;
let cleanup = null;
let pendingNotice = null;

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : 'cases';
  const [path, query] = raw.split('?');
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(query || ''),
  };
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function announce(text) {
  const el = document.getElementById('announcer');
  el.textContent = '';
  // A fresh text node after a tick, so screen readers announce the same message twice.
  setTimeout(() => (el.textContent = text), 50);
}

function fail(container, err) {
  const text =
    err.status === 0
      ? t('error.network')
      : t('error.generic', { status: err.status, message: err.message });
  container.replaceChildren(
    h(
      'div',
      { class: 'error-box', role: 'alert' },
      h('p', null, text),
      h('button', { type: 'button', onclick: () => route() }, t('retry')),
    ),
  );
}

function renderChrome(signedIn, section) {
  document.documentElement.lang = lang();
  document.title = `${t('app.title')} · ${t('app.subtitle')}`;
  document.getElementById('brand-title').textContent = t('app.title');
  document.getElementById('brand-subtitle').textContent = t('app.subtitle');
  document.getElementById('skip').textContent = t('skip');
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav.main'));
  nav.hidden = !signedIn;
  for (const link of nav.querySelectorAll('a')) {
    link.textContent = t(link.dataset.label);
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const langButton = document.getElementById('lang');
  langButton.textContent = t('lang.switch');
  langButton.setAttribute('aria-label', t('lang.switch.label'));
  langButton.setAttribute('lang', lang() === 'en' ? 'zh-CN' : 'en');
  const signout = document.getElementById('signout');
  signout.textContent = t('signout');
  signout.hidden = !signedIn;
  const drawer = document.getElementById('drawer');
  drawer.querySelector('.drawer-title').textContent = t('drawer.title');
  drawer.querySelector('.drawer-close').textContent = t('drawer.close');
}

function route() {
  generation += 1;
  const mine = generation;
  cleanup?.();
  cleanup = null;
  const ctx = { navigate, isCurrent: () => mine === generation, fail, announce };
  const { parts, params } = parseHash();

  if (!token()) {
    closeDrawer();
    renderChrome(false, null);
    const notice = pendingNotice;
    pendingNotice = null;
    renderSignin(main, {
      notice,
      onSignedIn: () => {
        const target = parts[0] && parts[0] !== 'signin' ? location.hash : '#/cases';
        navigate(target);
      },
    });
    return;
  }

  const [page, arg] = parts;
  if (page === 'case' && arg) {
    renderChrome(true, 'cases');
    cleanup = renderCaseFile(main, arg.toUpperCase(), params, ctx);
  } else if (page === 'regions') {
    renderChrome(true, 'regions');
    closeDrawer();
    renderRegions(main, params, ctx);
  } else {
    renderChrome(true, 'cases');
    closeDrawer();
    renderCases(main, params, ctx);
  }
}

function start() {
  setLang(lang());
  initDrawer();
  document.getElementById('lang').addEventListener('click', () => {
    setLang(lang() === 'en' ? 'zh-CN' : 'en');
    route();
  });
  document.getElementById('signout').addEventListener('click', () => {
    clearToken();
    pendingNotice = t('signin.signedout');
    navigate('#/cases');
  });
  document.getElementById('skip').addEventListener('click', (ev) => {
    // The fragment is the router's: move focus without touching it.
    ev.preventDefault();
    main.focus();
  });
  window.addEventListener('jc:unauthorized', () => {
    if (!token()) return;
    clearToken();
    pendingNotice = t('error.session');
    route();
  });
  window.addEventListener('hashchange', route);
  route();
}

start();

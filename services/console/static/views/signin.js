// Sign-in: the token is checked against the case list before it is kept.

import { get, setToken } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';

export function renderSignin(main, { notice, onSignedIn }) {
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-hint',
  });
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'link-button',
      'aria-controls': 'token',
      'aria-pressed': 'false',
      onclick: () => {
        const show = input.type === 'password';
        input.type = show ? 'text' : 'password';
        toggle.textContent = show ? t('signin.hide') : t('signin.show');
        toggle.setAttribute('aria-pressed', String(show));
      },
    },
    t('signin.show'),
  );
  const message = h('div', { class: 'form-message', role: 'alert', id: 'signin-message' });
  if (notice) message.append(h('p', { class: 'notice' }, notice));
  const submit = h('button', { type: 'submit', class: 'primary' }, t('signin.submit'));

  const form = h(
    'form',
    {
      class: 'signin-form',
      novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        const value = input.value.trim();
        message.replaceChildren();
        if (!value) {
          message.append(h('p', { class: 'error' }, t('signin.empty')));
          input.focus();
          return;
        }
        submit.disabled = true;
        submit.textContent = t('signin.checking');
        try {
          await get('/v1/cases', { limit: 1 }, { bearer: value });
          setToken(value);
          onSignedIn();
        } catch (err) {
          const text =
            err.status === 401
              ? t('signin.401')
              : err.status === 403
                ? t('signin.403')
                : err.status === 0
                  ? t('error.network')
                  : t('error.generic', { status: err.status, message: err.message });
          message.append(h('p', { class: 'error' }, text));
          input.setAttribute('aria-invalid', 'true');
          input.focus();
        } finally {
          submit.disabled = false;
          submit.textContent = t('signin.submit');
        }
      },
    },
    h('label', { for: 'token' }, t('signin.token')),
    h('div', { class: 'token-row' }, input, toggle),
    h('p', { class: 'hint', id: 'token-hint' }, t('signin.token.hint')),
    message,
    submit,
  );

  main.replaceChildren(
    h(
      'section',
      { class: 'signin card', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title' }, t('signin.title')),
      h('p', { class: 'lead' }, t('signin.lead')),
      form,
    ),
  );
  input.focus();
}

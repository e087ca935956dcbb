// Signing in: password, then a TOTP code (or a recovery code) when the account has one;
// creating an account. The access token stays in memory, the refresh token in this tab's
// sessionStorage; a 401 triggers one refresh (refresh tokens rotate on the server).

import { ApiError, FolioClient } from "./api.js";
import { refreshToken } from "./store.js";

export class Auth {
  constructor({ onChange = () => {} } = {}) {
    this.plain = new FolioClient();
    this.access = null;
    this.user = null;
    this.onChange = onChange;
    this.refreshing = null;
  }

  token() {
    return this.access;
  }

  store(pair) {
    this.access = pair.access_token;
    refreshToken.set(pair.refresh_token);
  }

  /** Trade the stored refresh token for a new pair; false (and signed out) when it fails. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const token = refreshToken.get();
        if (!token) return false;
        try {
          this.store(await this.plain.json("POST", "/auth/refresh", { refresh_token: token }));
          return true;
        } catch (err) {
          if (err instanceof ApiError && err.kind === "http") this.forget();
          return false;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** On page load: a refresh token from this tab means we are still signed in. */
  async restore() {
    if (!refreshToken.get()) return null;
    if (!(await this.refresh())) return null;
    return this.loadUser();
  }

  async loadUser() {
    const client = new FolioClient({ auth: this });
    this.user = await client.json("GET", "/auth/me");
    this.onChange(this.user);
    return this.user;
  }

  /** Password login; resolves with the user, rejects with ApiError (code mfa_required...). */
  async login({ email, password, totpCode = null, recoveryCode = null }) {
    const body = { email, password };
    if (totpCode) body.totp_code = totpCode;
    if (recoveryCode) body.recovery_code = recoveryCode;
    this.store(await this.plain.json("POST", "/auth/login", body));
    return this.loadUser();
  }

  async register({ email, password }) {
    await this.plain.json("POST", "/auth/register", { email, password });
    return this.login({ email, password });
  }

  async logout() {
    const token = refreshToken.get();
    this.forget();
    if (token) {
      try {
        await this.plain.json("POST", "/auth/logout", { refresh_token: token });
      } catch {
        // already signed out locally; the server side expires on its own
      }
    }
  }

  forget() {
    const had = this.user !== null || this.access !== null;
    this.access = null;
    this.user = null;
    refreshToken.set(null);
    if (had) this.onChange(null);
  }
}

/** The sign-in dialog: one form whose TOTP step appears only when the server asks for it. */
export class LoginDialog {
  constructor(dialog, auth, { onSignedIn = () => {} } = {}) {
    this.dialog = dialog;
    this.auth = auth;
    this.onSignedIn = onSignedIn;
    this.form = dialog.querySelector("form");
    this.mode = "login";
    this.q = (name) => dialog.querySelector(`[data-login="${name}"]`);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.q("cancel").addEventListener("click", () => this.close());
    this.q("switch").addEventListener("click", () =>
      this.setMode(this.mode === "login" ? "register" : "login"),
    );
    this.q("use-recovery").addEventListener("click", () => this.showSecondFactor("recovery"));
    dialog.addEventListener("close", () => this.opener && this.opener.focus());
  }

  open(opener) {
    this.opener = opener || null;
    this.setMode("login");
    this.form.reset();
    this.dialog.showModal();
    this.q("email").focus();
  }

  close() {
    this.dialog.close();
  }

  setMode(mode) {
    this.mode = mode;
    this.q("title").textContent = mode === "login" ? "Sign in" : "Create an account";
    this.q("submit").textContent = mode === "login" ? "Sign in" : "Create account";
    this.q("switch").textContent =
      mode === "login" ? "Create an account instead" : "I already have an account";
    this.q("password").autocomplete = mode === "login" ? "current-password" : "new-password";
    this.q("password-hint").hidden = mode === "login";
    this.showSecondFactor(null);
    this.message("");
  }

  /** null: password only; "totp": the code field; "recovery": the recovery-code field. */
  showSecondFactor(kind) {
    this.second = kind;
    this.q("totp-row").hidden = kind !== "totp";
    this.q("recovery-row").hidden = kind !== "recovery";
    this.q("use-recovery").hidden = kind !== "totp";
    this.q("totp").required = kind === "totp";
    this.q("recovery").required = kind === "recovery";
    if (kind === "totp") this.q("totp").focus();
    if (kind === "recovery") this.q("recovery").focus();
  }

  message(text) {
    const box = this.q("message");
    box.textContent = text;
    box.hidden = !text;
  }

  async submit() {
    const email = this.q("email").value.trim();
    const password = this.q("password").value;
    if (!email || !password) {
      this.message("Enter your email and password.");
      return;
    }
    const button = this.q("submit");
    button.disabled = true;
    try {
      if (this.mode === "register") {
        await this.auth.register({ email, password });
      } else {
        await this.auth.login({
          email,
          password,
          totpCode: this.second === "totp" ? this.q("totp").value.trim() : null,
          recoveryCode: this.second === "recovery" ? this.q("recovery").value.trim() : null,
        });
      }
      this.close();
      this.onSignedIn(this.auth.user);
    } catch (err) {
      if (err instanceof ApiError && err.code === "mfa_required") {
        this.showSecondFactor(this.second || "totp");
        this.message("Enter the 6-digit code from your authenticator app.");
      } else if (err instanceof ApiError && err.status === 429) {
        this.message(`Too many attempts. Try again in ${err.retryAfter ?? 60} seconds.`);
      } else if (err instanceof ApiError && err.kind === "network") {
        this.message("Could not reach Folio. Check your connection, then try again.");
      } else {
        this.message(err.message || "Sign-in failed.");
      }
    } finally {
      button.disabled = false;
    }
  }
}

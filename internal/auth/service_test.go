package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"guidecall/internal/auth"
	"guidecall/protocol"
)

type fixture struct {
	svc   *auth.Service
	iss   *auth.Issuer
	clk   *clock
	store *auth.MemoryAccountStore
	guide auth.Account
	admin auth.Account
}

const guidePassword = "guide-password"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	iss, clk := newIssuer(t)
	store := auth.NewMemoryAccountStore()
	svc := auth.NewService(store, iss, nil)
	svc.PasswordParams = auth.TestPasswordParams
	ctx := context.Background()
	g, err := svc.AddAccount(ctx, "Guide@Example.com", "Gina Guide", guidePassword, protocol.RoleGuide)
	if err != nil {
		t.Fatalf("AddAccount guide: %v", err)
	}
	a, err := svc.AddAccount(ctx, "admin@example.com", "Adam Admin", "admin-password", protocol.RoleAdmin)
	if err != nil {
		t.Fatalf("AddAccount admin: %v", err)
	}
	return &fixture{svc: svc, iss: iss, clk: clk, store: store, guide: g, admin: a}
}

func TestAddAccount(t *testing.T) {
	f := newFixture(t)
	if f.guide.Email != "guide@example.com" || f.guide.Role != protocol.RoleGuide || f.guide.ID == "" || f.guide.CreatedAt.IsZero() {
		t.Fatalf("guide = %+v", f.guide)
	}
	if ok, _ := auth.CheckPassword(f.guide.PasswordHash, guidePassword); !ok {
		t.Fatal("stored hash does not match the password")
	}
	ctx := context.Background()
	cases := []struct {
		name, email, person, password string
		role                          protocol.Role
		want                          error
	}{
		{"duplicate email", "GUIDE@example.com", "X", "tulip-ledger-41", protocol.RoleGuide, auth.ErrDuplicateEmail},
		{"bad email", "not-an-email", "X", "tulip-ledger-41", protocol.RoleGuide, auth.ErrInvalidAccount},
		{"display name email", "X <x@example.com>", "X", "tulip-ledger-41", protocol.RoleGuide, auth.ErrInvalidAccount},
		{"empty name", "x@example.com", "", "tulip-ledger-41", protocol.RoleGuide, auth.ErrInvalidAccount},
		{"NUL in name", "x@example.com", "a\x00b", "tulip-ledger-41", protocol.RoleGuide, auth.ErrInvalidAccount},
		{"shopper role", "x@example.com", "X", "tulip-ledger-41", protocol.RoleShopper, auth.ErrInvalidAccount},
		{"unknown role", "x@example.com", "X", "tulip-ledger-41", "root", auth.ErrInvalidAccount},
		{"weak password", "x@example.com", "X", "short", protocol.RoleGuide, auth.ErrWeakPassword},
		{"common password", "x@example.com", "X", "password", protocol.RoleGuide, auth.ErrCommonPassword},
		{"common password any case", "x@example.com", "X", "Password123", protocol.RoleGuide, auth.ErrCommonPassword},
		{"email as password", "longname@example.com", "X", "LongName@example.com", protocol.RoleGuide, auth.ErrCommonPassword},
		{"local part as password", "longname@example.com", "X", "longname", protocol.RoleGuide, auth.ErrCommonPassword},
	}
	for _, c := range cases {
		if _, err := f.svc.AddAccount(ctx, c.email, c.person, c.password, c.role); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// Invisible and bidi characters are stripped, and the name is NFC.
	a, err := f.svc.AddAccount(ctx, "clean@example.com", "\u202EZoe\u0301\u200B\n", "tulip-ledger-41", protocol.RoleGuide)
	if err != nil || a.Name != "Zoé" {
		t.Errorf("cleaned name = %q, %v; want %q", a.Name, err, "Zoé")
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair, err := f.svc.Login(ctx, "  GUIDE@example.com ", guidePassword, "192.0.2.1")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if pair.TokenType != "Bearer" || pair.ExpiresIn != int((15*time.Minute)/time.Second) {
		t.Errorf("pair = %+v", pair)
	}
	if pair.Account.ID != f.guide.ID || pair.Account.Email != "guide@example.com" {
		t.Errorf("pair.Account = %+v", pair.Account)
	}
	c, err := f.iss.Verify(pair.AccessToken, auth.KindAccess)
	if err != nil || c.Subject != f.guide.ID || c.Role != protocol.RoleGuide {
		t.Fatalf("access token: %+v, %v", c, err)
	}
	rc, err := f.iss.Verify(pair.RefreshToken, auth.KindRefresh)
	if err != nil || !rc.ExpiresAt.Time.Equal(f.clk.Now().Add(12*time.Hour)) {
		t.Fatalf("refresh token: %+v, %v", rc, err)
	}

	_, errWrongPassword := f.svc.Login(ctx, "guide@example.com", "wrong-password", "192.0.2.1")
	_, errUnknown := f.svc.Login(ctx, "nobody@example.com", guidePassword, "192.0.2.1")
	_, errEmpty := f.svc.Login(ctx, "", "", "192.0.2.1")
	for name, err := range map[string]error{"wrong password": errWrongPassword, "unknown email": errUnknown, "empty": errEmpty} {
		if err != auth.ErrBadCredentials {
			t.Errorf("%s: err = %v, want exactly ErrBadCredentials", name, err)
		}
	}
}

func TestLoginStoreFailure(t *testing.T) {
	iss, _ := newIssuer(t)
	svc := auth.NewService(failingStore{}, iss, nil)
	_, err := svc.Login(context.Background(), "a@example.com", "password1", "192.0.2.1")
	if err == nil || errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("err = %v, want a store error distinct from bad credentials", err)
	}
}

func TestRefresh(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair, _ := f.svc.Login(ctx, "admin@example.com", "admin-password", "192.0.2.1")
	f.clk.Advance(time.Hour) // access token expired, refresh token not
	if _, err := f.iss.Verify(pair.AccessToken, auth.KindAccess); !errors.Is(err, auth.ErrExpiredToken) {
		t.Fatalf("old access token: %v", err)
	}
	next, err := f.svc.Refresh(ctx, pair.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	c, err := f.iss.Verify(next.AccessToken, auth.KindAccess)
	if err != nil || c.Subject != f.admin.ID || c.Role != protocol.RoleAdmin {
		t.Fatalf("refreshed access token: %+v, %v", c, err)
	}

	if _, err := f.svc.Refresh(ctx, pair.AccessToken); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("access token as refresh: err = %v", err)
	}
	ghost, _ := f.iss.IssueAccount(auth.Account{ID: "gone", Role: protocol.RoleGuide}, "fam", auth.KindRefresh, time.Hour)
	if _, err := f.svc.Refresh(ctx, ghost); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("refresh for a missing account: err = %v", err)
	}
	f.clk.Advance(13 * time.Hour)
	if _, err := f.svc.Refresh(ctx, next.RefreshToken); !errors.Is(err, auth.ErrExpiredToken) {
		t.Errorf("expired refresh: err = %v", err)
	}
}

type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) AccountCreate(context.Context, auth.Account) (auth.Account, error) {
	return auth.Account{}, errStoreDown
}
func (failingStore) AccountByEmail(context.Context, string) (auth.Account, error) {
	return auth.Account{}, errStoreDown
}
func (failingStore) AccountByID(context.Context, string) (auth.Account, error) {
	return auth.Account{}, errStoreDown
}
func (failingStore) AccountList(context.Context) ([]auth.Account, error) { return nil, errStoreDown }
func (failingStore) AccountUpdate(context.Context, string, func(*auth.Account) error) (auth.Account, error) {
	return auth.Account{}, errStoreDown
}

func TestLoginSchedule(t *testing.T) {
	got := auth.DefaultLoginLimits.Schedule()
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 15 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("Schedule = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Schedule = %v, want %v", got, want)
		}
	}
}
func (failingStore) AccountDelete(context.Context, string) error { return errStoreDown }

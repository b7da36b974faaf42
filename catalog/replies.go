package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"guidecall/internal/cleantext"
)

// Reply is a saved chat reply a guide inserts in one click: the merchant's
// (Owner "", kept by admins, offered to every guide) or one guide's own
// (Owner its account id).
type Reply struct {
	ID        string    `json:"reply_id"`
	Owner     string    `json:"-"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// Limits of saved replies; docs/api.md says the same.
const (
	MaxReplies      = 200 // per owner
	maxTitleRunes   = 80
	maxReplyRunes   = 2000 // a chat message's limit
	merchantReplies = ""
)

// ErrNotFound is a reply that is not there, or not the caller's.
var ErrNotFound = errors.New("catalog: not found")

// ReplyStore keeps saved replies; every method is one transaction.
type ReplyStore interface {
	// RepliesList lists one owner's replies, oldest first.
	RepliesList(ctx context.Context, owner string) ([]Reply, error)
	// ReplyCreate adds a reply, refusing (ErrInvalid) an owner that holds
	// MaxReplies already: the count and the insert are one transaction.
	ReplyCreate(ctx context.Context, r Reply) (Reply, error)
	// ReplyDelete removes one owner's reply; ErrNotFound when that owner
	// has no reply of that id.
	ReplyDelete(ctx context.Context, owner, id string) error
}

func newReplyID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "rp_" + hex.EncodeToString(b)
}

func cleanReply(title, text string) (string, string, error) {
	t, err := cleantext.Line(title, maxTitleRunes)
	if err != nil {
		return "", "", fmt.Errorf("%w: title: %w", ErrInvalid, err)
	}
	x, err := cleantext.Text(text, maxReplyRunes)
	if err != nil {
		return "", "", fmt.Errorf("%w: text: %w", ErrInvalid, err)
	}
	x = strings.TrimSpace(x)
	switch {
	case t == "":
		return "", "", fmt.Errorf("%w: title: required (1 to %d characters)", ErrInvalid, maxTitleRunes)
	case x == "":
		return "", "", fmt.Errorf("%w: text: required (1 to %d characters)", ErrInvalid, maxReplyRunes)
	}
	return t, x, nil
}

// Replies lists the merchant's replies and the guide's own.
func (s *Service) Replies(ctx context.Context, guideID string) (merchant, mine []Reply, err error) {
	if merchant, err = s.replies.RepliesList(ctx, merchantReplies); err != nil {
		return nil, nil, err
	}
	if guideID == "" {
		return merchant, nil, nil
	}
	mine, err = s.replies.RepliesList(ctx, guideID)
	return merchant, mine, err
}

// AddReply saves a reply for owner: a guide's id, or "" for the merchant's.
func (s *Service) AddReply(ctx context.Context, owner, title, text string) (Reply, error) {
	title, text, err := cleanReply(title, text)
	if err != nil {
		return Reply{}, err
	}
	r, err := s.replies.ReplyCreate(ctx, Reply{ID: newReplyID(), Owner: owner, Title: title, Text: text, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		return Reply{}, err
	}
	s.log.InfoContext(ctx, "saved reply added", "reply_id", r.ID, "merchant", owner == merchantReplies, "guide_id", owner)
	return r, nil
}

// DeleteReply removes one of owner's replies.
func (s *Service) DeleteReply(ctx context.Context, owner, id string) error {
	if err := s.replies.ReplyDelete(ctx, owner, id); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "saved reply deleted", "reply_id", id, "merchant", owner == merchantReplies, "guide_id", owner)
	return nil
}

// --- memory ---

func (m *MemoryStore) RepliesList(_ context.Context, owner string) ([]Reply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Reply{}
	for _, r := range m.replies {
		if r.Owner == owner {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Reply) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (m *MemoryStore) ReplyCreate(_ context.Context, r Reply) (Reply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, x := range m.replies {
		if x.Owner == r.Owner {
			n++
		}
	}
	if n >= MaxReplies {
		return Reply{}, fmt.Errorf("%w: at most %d saved replies each", ErrInvalid, MaxReplies)
	}
	m.replies = append(m.replies, r)
	return r, nil
}

func (m *MemoryStore) ReplyDelete(_ context.Context, owner, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.replies, func(r Reply) bool { return r.ID == id && r.Owner == owner })
	if i < 0 {
		return fmt.Errorf("reply %s: %w", id, ErrNotFound)
	}
	m.replies = slices.Delete(m.replies, i, i+1)
	return nil
}

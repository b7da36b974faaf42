package catalog_test

import (
	"testing"

	"guidecall/catalog"
	"guidecall/catalog/catalogtest"
	"guidecall/internal/db/dbtest"
)

func TestMemoryStore(t *testing.T) {
	catalogtest.RunStoreSuite(t, func(*testing.T) catalog.Store { return catalog.NewMemoryStore() })
	catalogtest.RunReplySuite(t, func(*testing.T) catalog.Store { return catalog.NewMemoryStore() })
}

func TestPostgresStore(t *testing.T) {
	newStore := func(t *testing.T) catalog.Store {
		pool, _ := dbtest.NewSchema(t)
		return catalog.NewPostgresStore(pool)
	}
	catalogtest.RunStoreSuite(t, newStore)
	catalogtest.RunReplySuite(t, newStore)
}

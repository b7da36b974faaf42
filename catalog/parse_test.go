package catalog

import (
	"errors"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	ps, err := ParseJSON([]byte(`[{"product_id":"sneaker","name":" Merino wool sneaker ","variant":"EU 42","image_url":"https://shop.example/i.jpg","url":"https://shop.example/p","price":12900,"currency":"EUR"},
		{"product_id":"socks","name":"Wool socks","price":1500,"currency":"EUR"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "Merino wool sneaker" || ps[0].Price != 12900 || ps[1].Variant != "" {
		t.Fatalf("parsed %+v", ps)
	}
	for _, c := range []struct {
		feed  string
		row   int
		field string
	}{
		{`[{"product_id":"a","name":"A","price":12.99,"currency":"EUR"}]`, 1, "price"},
		{`[{"product_id":"a","name":"A","price":1299,"currency":"EUR"},{"product_id":"b","name":"B","price":1,"currency":"euro"}]`, 2, "currency"},
		{`[{"product_id":"a","name":"A","price":1,"currency":"EUR","colour":"red"}]`, 1, "colour"},
		{`[{"name":"A","price":1,"currency":"EUR"}]`, 1, "product_id"},
		{`[{"product_id":"a","name":"","price":1,"currency":"EUR"}]`, 1, "name"},
		{`[{"product_id":"a","name":"A","price":1,"currency":"EUR","url":"javascript:alert(1)"}]`, 1, "url"},
		{`[{"product_id":"a","name":"A","price":-1,"currency":"EUR"}]`, 1, "price"},
		{`[{"product_id":"a","name":"A","price":1,"currency":"EUR"},{"product_id":"a","name":"A again","price":1,"currency":"EUR"}]`, 2, "product_id"},
		{`[{"product_id":"a","name":"A\u0000","price":1,"currency":"EUR"}]`, 1, "name"},
	} {
		_, err := ParseJSON([]byte(c.feed))
		var re *RowError
		if !errors.As(err, &re) || re.Row != c.row || re.Field != c.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseJSON(%s): %v; want row %d field %s", c.feed, err, c.row, c.field)
		}
	}
	if _, err := ParseJSON([]byte(`{"product_id":"a"}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("an object, not an array: %v", err)
	}
}

func TestParseCSV(t *testing.T) {
	ps, err := ParseCSV(strings.NewReader("\ufeffname,product_id,price,currency,variant\nMerino wool sneaker,sneaker,12900,EUR,EU 42\n\"Socks, wool\",socks,1500,EUR,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ProductID != "sneaker" || ps[0].Variant != "EU 42" || ps[1].Name != "Socks, wool" || ps[1].Price != 1500 {
		t.Fatalf("parsed %+v", ps)
	}
	for _, c := range []struct {
		feed  string
		row   int
		field string
	}{
		{"product_id,name,price,currency\na,A,12.99,EUR\n", 1, "price"},
		{"product_id,name,price,currency\na,A,1,EUR\nb,B,2,EURO\n", 2, "currency"},
		{"product_id,name,price\na,A,1\n", 0, "currency"},
		{"product_id,name,price,currency,colour\n", 0, "colour"},
		{"product_id,name,price,currency\na,A,1\n", 1, "row"},
	} {
		_, err := ParseCSV(strings.NewReader(c.feed))
		var re *RowError
		if !errors.As(err, &re) || re.Row != c.row || re.Field != c.field {
			t.Errorf("ParseCSV(%q): %v; want row %d field %s", c.feed, err, c.row, c.field)
		}
	}
}

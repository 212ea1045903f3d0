package directory

import (
	"reflect"
	"testing"
)

func TestDNsSortedPerSite(t *testing.T) {
	d := NewDirectory()
	d.AddPerson(Person{UserName: "b", DNs: [2]string{"5002", "6002"}}, "pw-b")
	d.AddPerson(Person{UserName: "a", DNs: [2]string{"5010", ""}}, "pw-a")
	d.AddPerson(Person{UserName: "c", DNs: [2]string{"5001", "6001"}}, "pw-c")
	want := []DN{
		{Number: "5001", Site: 1, SIPPassword: "pw-c"},
		{Number: "5002", Site: 1, SIPPassword: "pw-b"},
		{Number: "5010", Site: 1, SIPPassword: "pw-a"},
	}
	if got := d.DNs(1); !reflect.DeepEqual(got, want) {
		t.Fatalf("site 1 DNs %+v, want %+v", got, want)
	}
	if got := d.DNs(2); len(got) != 2 || got[0].Number != "6001" || got[1].Number != "6002" || got[0].Site != 2 {
		t.Fatalf("site 2 DNs %+v", got)
	}
	for _, site := range []int{0, 3} {
		if got := d.DNs(site); got != nil {
			t.Fatalf("site %d DNs %+v, want none", site, got)
		}
	}
}

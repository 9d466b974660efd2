package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestCheckStaticELF(t *testing.T) {
	static := filepath.Join(t.TempDir(), "fakebroker")
	cmd := exec.Command("go", "build", "-o", static, "./testdata/fakebroker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		data   []byte
		wantOK bool
	}{
		{name: "static go binary", data: read(static), wantOK: true},
		{name: "not an executable", data: []byte("#!/bin/sh\necho hi\n")},
	}
	// Debian's /bin/ls is dynamically linked: a scratch image cannot run it.
	if b, err := os.ReadFile("/bin/ls"); err == nil {
		cases = append(cases, struct {
			name   string
			data   []byte
			wantOK bool
		}{name: "dynamic binary", data: b})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkStaticELF(tc.data)
			if (err == nil) != tc.wantOK {
				t.Errorf("checkStaticELF = %v, want ok=%v", err, tc.wantOK)
			}
		})
	}
}

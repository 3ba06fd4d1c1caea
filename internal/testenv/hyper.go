package testenv

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// HyperSign signs req the way Hyper's example websocket client does
// (hyperhq/websocket-client, go/util/sign4.go, Sign4 with a region), one step
// of that client per step here, so tests reach the verifier exactly as the
// client would. It is written from a reading of that client, independently of
// the verifier in server/auth, so a shared misreading does not hide. now is
// the signing time (the client uses the clock).
func HyperSign(req *http.Request, access, secret, region string, now time.Time) {
	// Step 1 (prepare): default Content-Type application/json and
	// X-Hyper-Date (UTC, 20060102T150405Z) unless set; "/" for an empty path.
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("X-Hyper-Date") == "" {
		req.Header.Set("X-Hyper-Date", now.UTC().Format("20060102T150405Z"))
	}
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}

	// Step 2: read the body whole (empty if none), put it back, and send
	// its hex SHA-256 as X-Hyper-Content-Sha256.
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	payload := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(payload[:])
	req.Header.Set("X-Hyper-Content-Sha256", payloadHash)

	// Step 3: a Host header from the URL, port and all, so it is signed.
	// (The client's websocket library then sends it as the Host.)
	req.Header.Set("Host", req.URL.Host)

	// Step 4: sign Content-Type, Content-Md5, Host and every X-Hyper-*
	// header present, lower-cased and sorted; each value trimmed, and the
	// host without its port if that port is 80 or 443 (looking only at what
	// follows the first colon).
	var names []string
	for k := range req.Header {
		if k == "Content-Type" || k == "Content-Md5" || k == "Host" || strings.HasPrefix(k, "X-Hyper-") {
			names = append(names, strings.ToLower(k))
		}
	}
	sort.Strings(names)
	canonHeaders := ""
	for _, n := range names {
		v := strings.TrimSpace(req.Header.Get(n))
		if n == "host" && strings.Contains(v, ":") {
			if p := strings.Split(v, ":"); p[1] == "80" || p[1] == "443" {
				v = p[0]
			}
		}
		canonHeaders += n + ":" + v + "\n"
	}
	signedHeaders := strings.Join(names, ";")

	// Step 5: the canonical path drops empty segments (no leading slash)
	// and escapes all but A-Z a-z 0-9 - _ . ~ as %XX, upper-case hex.
	var segs []string
	for _, s := range strings.Split(req.URL.Path, "/") {
		if s == "" {
			continue
		}
		esc := ""
		for _, c := range []byte(s) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.~", c) >= 0:
				esc += string(c)
			default:
				esc += "%" + strings.ToUpper(hex.EncodeToString([]byte{c}))
			}
		}
		segs = append(segs, esc)
	}
	// Step 6: the canonical query is Go's parse of the URL's query,
	// re-encoded (sorted keys), with "+" turned into "%20".
	query := strings.ReplaceAll(req.URL.Query().Encode(), "+", "%20")

	// Step 7: the canonical request, newline-joined, and its hash.
	canonical := strings.Join([]string{req.Method, strings.Join(segs, "/"), query, canonHeaders, signedHeaders, payloadHash}, "\n")
	canonSum := sha256.Sum256([]byte(canonical))

	// Step 8: the credential scope. The region is the given one unless the
	// request's Host is REGION.hyper.sh (without a port).
	if strings.HasSuffix(req.Host, ".hyper.sh") {
		if p := strings.SplitN(req.Host, ".", 2); p[1] == "hyper.sh" {
			region = p[0]
		}
	}
	date := req.Header.Get("X-Hyper-Date")
	credScope := date[:8] + "/" + region + "/hyper/hyper_request"
	stringToSign := "HYPER-HMAC-SHA256\n" + date + "\n" + credScope + "\n" + hex.EncodeToString(canonSum[:])

	// Step 9: the key, HMAC-chained from "HYPER"+secret over the day, the
	// region, "hyper" and "hyper_request"; the signature is the hex HMAC of
	// the string to sign.
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("HYPER"+secret), date[:8]), region), "hyper"), "hyper_request")
	sig := hex.EncodeToString(mac(key, stringToSign))

	// Step 10: the Authorization header.
	req.Header.Set("Authorization", "HYPER-HMAC-SHA256 Credential="+access+"/"+credScope+", SignedHeaders="+signedHeaders+", Signature="+sig)
}

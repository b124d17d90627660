package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/7targets/zenvia-sales-app/store"
)

// FaultServer is a store reached through a proxy that speaks the MongoDB wire protocol and can
// make a database fail at a chosen write: the write is refused, or it lands and its answer is
// lost, and from then on every command on that database fails, as when the process issuing
// them crashes. It shows what a crash in the middle of an operation of several writes leaves
// behind. Failures are command errors that the driver does not retry, so the calls after a
// crash fail at once instead of waiting on server selection.
//
// It serves the MongoDB of MONGODB_TEST_URI (a mongodb:// URI; its first host) when set, else
// an embedded store of its own.
type FaultServer struct {
	proxy *faultProxy
	db    *store.DB     // through the proxy
	raw   *mongo.Client // straight to the server, for reading what is stored
}

// NewFaultServer starts a FaultServer, stopped when tb ends. Take databases from it with NewDB.
func NewFaultServer(tb testing.TB) *FaultServer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	uri, embedded := os.Getenv("MONGODB_TEST_URI"), false
	if !strings.HasPrefix(uri, "mongodb://") {
		// On TCP: the proxy in front speaks TCP, and this store is a test's only.
		e, err := store.StartEmbeddedOn(tb.TempDir(), "127.0.0.1:0", slog.New(slog.DiscardHandler))
		if err != nil {
			tb.Fatalf("storetest: %v", err)
		}
		tb.Cleanup(e.Stop)
		uri, embedded = e.URI(), true
	}
	u, err := url.Parse(uri)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	target, _, _ := strings.Cut(u.Host, ",")
	p, err := startFaultProxy(target)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(p.close)

	raw, err := store.Connect(ctx, uri, embedded)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() { _ = raw.Disconnect(context.Background()) })

	// The App's client, through the proxy: one server, reached directly. Unlike the App, it
	// may use several connections on the embedded store: what needs one (concurrent updates
	// of one document) never happens across the separate databases of NewDB.
	proxied := *u
	proxied.Host = p.addr()
	q := proxied.Query()
	q.Del("replicaSet")
	q.Set("directConnection", "true")
	proxied.RawQuery = q.Encode()
	db, err := store.Open(ctx, store.Config{URI: proxied.String(), Database: "faults", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close(context.Background()) })
	return &FaultServer{proxy: p, db: db, raw: raw}
}

// NewDB returns a fresh database with the App's indexes, dropped when tb ends, and the Faults
// that make it fail.
func (s *FaultServer) NewDB(tb testing.TB) (*store.DB, *Faults) {
	tb.Helper()
	name := "f_" + randomHex(6)
	db := s.db.WithDatabase(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.EnsureIndexes(ctx); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	f := &Faults{db: s.raw.Database(name)}
	s.proxy.register(name, f)
	tb.Cleanup(func() {
		s.proxy.unregister(name)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			tb.Logf("storetest: drop: %v", err)
		}
	})
	return db, f
}

// CrashMode says what happens to the write a crash falls on.
type CrashMode int

const (
	// LoseWrite: the write never reaches the store.
	LoseWrite CrashMode = iota + 1
	// LoseReply: the write lands, but the process dies before it learns so.
	LoseReply
)

func (m CrashMode) String() string {
	switch m {
	case LoseWrite:
		return "write lost"
	case LoseReply:
		return "reply lost"
	}
	return fmt.Sprintf("CrashMode(%d)", int(m))
}

// Faults counts the writes (insert, update, delete, findAndModify) sent to one database and
// crashes it on demand. It is safe for concurrent use.
type Faults struct {
	db *mongo.Database // reached directly, past the proxy

	mu      sync.Mutex
	writes  int
	crashAt int // the number of the write the crash falls on; 0 for none
	mode    CrashMode
	crashed bool
}

// Writes returns how many write commands the database has been sent.
func (f *Faults) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// CrashAt makes the n-th write from now on (1 for the next) crash the database as mode says:
// that write and every command after it on the database fail, until Heal.
func (f *Faults) CrashAt(n int, mode CrashMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashAt, f.mode, f.crashed = f.writes+n, mode, false
}

// Crashed reports whether the armed crash has happened.
func (f *Faults) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Heal disarms any crash and lets commands through again, as when the process restarts.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashAt, f.crashed = 0, false
}

// Documents returns every document of collection as stored, nested documents as maps, read
// past the proxy (whether or not the database has crashed).
func (f *Faults) Documents(tb testing.TB, collection string) []map[string]any {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := f.db.Collection(collection).Find(ctx, bson.D{})
	if err != nil {
		tb.Fatalf("storetest: read %s: %v", collection, err)
	}
	defer cur.Close(ctx)
	var out []map[string]any
	for cur.Next(ctx) {
		dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(cur.Current)))
		dec.DefaultDocumentM()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			tb.Fatalf("storetest: decode %s: %v", collection, err)
		}
		out = append(out, normalize(m).(map[string]any))
	}
	if err := cur.Err(); err != nil {
		tb.Fatalf("storetest: read %s: %v", collection, err)
	}
	return out
}

// normalize turns the driver's bson.M and bson.A into plain maps and slices.
func normalize(v any) any {
	switch x := v.(type) {
	case bson.M:
		return normalize(map[string]any(x))
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case bson.A:
		return normalize([]any(x))
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// action is what the proxy does with one command.
type action int

const (
	pass action = iota
	refuse
	dropReply
)

var writeCommands = map[string]bool{"insert": true, "update": true, "delete": true, "findAndModify": true, "findandmodify": true}

// decide counts cmd if it is a write and says what becomes of it.
func (f *Faults) decide(cmd string) action {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return refuse
	}
	if !writeCommands[cmd] {
		return pass
	}
	f.writes++
	if f.crashAt == 0 || f.writes != f.crashAt {
		return pass
	}
	f.crashed = true
	if f.mode == LoseReply {
		return dropReply
	}
	return refuse
}

// faultProxy relays the wire protocol between the App's client and the server, one request
// and its replies at a time per connection (the driver never pipelines on a connection).
type faultProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	faults map[string]*Faults // by database name
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startFaultProxy(target string) (*faultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{ln: ln, target: target, faults: map[string]*Faults{}, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) register(db string, f *Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[db] = f
}

func (p *faultProxy) unregister(db string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.faults, db)
}

func (p *faultProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	p.wg.Wait()
}

// track records c so close can cut it; it reports false once the proxy is closing.
func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client)
		}()
	}
}

func (p *faultProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(client) || !p.track(server) {
		return
	}
	defer p.untrack(client)
	defer p.untrack(server)
	for {
		req, err := readMessage(client)
		if err != nil {
			return
		}
		act, oneWay := pass, false
		if req.opCode() == opMsg {
			oneWay = req.flags()&flagMoreToCome != 0
			if cmd, db, ok := req.command(); ok {
				if f := p.faultsOf(db); f != nil {
					act = f.decide(cmd)
				}
			}
		}
		switch act {
		case refuse:
			if _, err := client.Write(errorReply(req.requestID())); err != nil {
				return
			}
			continue
		case dropReply:
			if _, err := server.Write(req); err != nil {
				return
			}
			if err := relayReplies(server, io.Discard); err != nil {
				return
			}
			if _, err := client.Write(errorReply(req.requestID())); err != nil {
				return
			}
			continue
		}
		if _, err := server.Write(req); err != nil {
			return
		}
		if oneWay {
			continue
		}
		if err := relayReplies(server, client); err != nil {
			return
		}
	}
}

func (p *faultProxy) faultsOf(db string) *Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults[db]
}

// relayReplies copies one reply, and the ones that follow it while the server says more are
// coming (a streamed hello), from server to w.
func relayReplies(server net.Conn, w io.Writer) error {
	for {
		reply, err := readMessage(server)
		if err != nil {
			return err
		}
		if _, err := w.Write(reply); err != nil {
			return err
		}
		if reply.opCode() != opMsg || reply.flags()&flagMoreToCome == 0 {
			return nil
		}
	}
}

// The wire protocol, as much as the proxy needs of it.
const (
	opMsg          = 2013
	flagMoreToCome = 1 << 1
	headerLen      = 16
	maxMessageLen  = 48 << 20
)

// wireMessage is one message: its 16-byte header and its body.
type wireMessage []byte

func readMessage(r io.Reader) (wireMessage, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(hdr[:4]))
	if n < headerLen || n > maxMessageLen {
		return nil, fmt.Errorf("storetest: wire message of %d bytes", n)
	}
	m := make(wireMessage, n)
	copy(m, hdr[:])
	if _, err := io.ReadFull(r, m[headerLen:]); err != nil {
		return nil, err
	}
	return m, nil
}

func (m wireMessage) requestID() int32 { return int32(binary.LittleEndian.Uint32(m[4:8])) }
func (m wireMessage) opCode() int32    { return int32(binary.LittleEndian.Uint32(m[12:16])) }

func (m wireMessage) flags() uint32 {
	if len(m) < headerLen+4 {
		return 0
	}
	return binary.LittleEndian.Uint32(m[headerLen : headerLen+4])
}

// command returns the command name and database of an OP_MSG: the first key of its body
// section and its $db.
func (m wireMessage) command() (cmd, db string, ok bool) {
	rest := m[headerLen+4:]
	for len(rest) > 5 {
		kind := rest[0]
		size := int(binary.LittleEndian.Uint32(rest[1:5]))
		if size < 5 || size > len(rest)-1 {
			return "", "", false
		}
		if kind != 0 {
			rest = rest[1+size:]
			continue
		}
		body := bson.Raw(rest[1 : 1+size])
		first, err := body.IndexErr(0)
		if err != nil {
			return "", "", false
		}
		db, _ := body.Lookup("$db").StringValueOK()
		return first.Key(), db, true
	}
	return "", "", false
}

// errorReply is an OP_MSG answering requestID with a command error the driver neither retries
// nor takes for a sign of an unhealthy server.
func errorReply(requestID int32) []byte {
	doc, err := bson.Marshal(bson.D{
		{Key: "ok", Value: 0.0},
		{Key: "errmsg", Value: "storetest: injected crash"},
		{Key: "code", Value: int32(8)},
		{Key: "codeName", Value: "UnknownError"},
	})
	if err != nil {
		panic(err)
	}
	n := headerLen + 4 + 1 + len(doc)
	out := make([]byte, 0, n)
	out = binary.LittleEndian.AppendUint32(out, uint32(n))
	out = binary.LittleEndian.AppendUint32(out, uint32(nextReplyID()))
	out = binary.LittleEndian.AppendUint32(out, uint32(requestID))
	out = binary.LittleEndian.AppendUint32(out, opMsg)
	out = binary.LittleEndian.AppendUint32(out, 0) // flags
	out = append(out, 0)                           // section kind 0: the body
	return append(out, doc...)
}

// replyIDs numbers the replies the proxy makes up, far from the driver's request ids.
var replyIDs atomic.Int32

func nextReplyID() int32 { return 1<<30 + replyIDs.Add(1) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

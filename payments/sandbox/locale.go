package sandbox

import (
	"net/http"

	"golang.org/x/text/language"
)

// The checkout speaks the shopper's language, as the widget does: the same
// fourteen locales, picked from the browser's Accept-Language (the page is
// opened from the widget in the same browser). Amounts stay as
// payments.Money prints them, code and digits, which read the same in all.

var checkoutTags = []language.Tag{
	language.English, language.MustParse("zh-CN"), language.Japanese, language.Korean, language.Thai,
	language.Indonesian, language.Vietnamese, language.Arabic, language.Hebrew, language.German,
	language.Dutch, language.French, language.Spanish, language.MustParse("pt-BR"),
}

var checkoutMatcher = language.NewMatcher(checkoutTags)

type checkoutText struct {
	Lang, Dir                     string
	Title, TestMode, Pay, Decline string
	Status                        string
	Received, Declined, NoLonger  string
	Unknown, Unavailable          string
	States                        map[string]string
}

// checkoutCatalog holds each locale's strings; Pay has a %s for the total.
var checkoutCatalog = map[string]checkoutText{
	"en": {Title: "Sandbox checkout", TestMode: "Test mode: no real money moves.", Pay: "Pay %s", Decline: "Decline", Status: "Status",
		Received: "Thank you: payment received.", Declined: "Payment declined.", NoLonger: "This payment can no longer be completed.",
		Unknown: "This checkout does not exist.", Unavailable: "The checkout is unavailable right now; please retry shortly.",
		States: map[string]string{"open": "open", "paid": "paid", "failed": "failed", "expired": "expired", "canceled": "canceled", "refunded": "refunded", "partially_refunded": "partially refunded"}},
	"zh-CN": {Title: "沙盒收银台", TestMode: "测试模式：不会产生真实扣款。", Pay: "支付 %s", Decline: "拒绝", Status: "状态",
		Received: "谢谢，已收到付款。", Declined: "付款已拒绝。", NoLonger: "这笔付款已无法完成。",
		Unknown: "此收银页面不存在。", Unavailable: "收银页面暂时不可用，请稍后重试。",
		States: map[string]string{"open": "待支付", "paid": "已支付", "failed": "失败", "expired": "已过期", "canceled": "已取消", "refunded": "已退款", "partially_refunded": "部分退款"}},
	"ja": {Title: "サンドボックス決済", TestMode: "テストモード：実際のお金は動きません。", Pay: "%s を支払う", Decline: "お断りする", Status: "状態",
		Received: "ありがとうございます。お支払いを受け付けました。", Declined: "お支払いをお断りしました。", NoLonger: "このお支払いは完了できなくなりました。",
		Unknown: "この決済ページは存在しません。", Unavailable: "決済ページは現在ご利用いただけません。しばらくしてからもう一度お試しください。",
		States: map[string]string{"open": "未払い", "paid": "支払い済み", "failed": "失敗", "expired": "期限切れ", "canceled": "キャンセル済み", "refunded": "返金済み", "partially_refunded": "一部返金済み"}},
	"ko": {Title: "샌드박스 결제", TestMode: "테스트 모드: 실제 돈은 오가지 않습니다.", Pay: "%s 결제", Decline: "거절", Status: "상태",
		Received: "감사합니다. 결제가 완료되었습니다.", Declined: "결제를 거절했습니다.", NoLonger: "이 결제는 더 이상 완료할 수 없습니다.",
		Unknown: "이 결제 페이지는 없습니다.", Unavailable: "지금은 결제 페이지를 사용할 수 없습니다. 잠시 후 다시 시도해 주세요.",
		States: map[string]string{"open": "결제 대기", "paid": "결제 완료", "failed": "실패", "expired": "만료", "canceled": "취소됨", "refunded": "환불됨", "partially_refunded": "부분 환불됨"}},
	"th": {Title: "หน้าชำระเงินทดสอบ", TestMode: "โหมดทดสอบ: ไม่มีการตัดเงินจริง", Pay: "ชำระ %s", Decline: "ปฏิเสธ", Status: "สถานะ",
		Received: "ขอบคุณ ได้รับชำระเงินแล้ว", Declined: "ปฏิเสธการชำระเงินแล้ว", NoLonger: "การชำระเงินนี้ไม่สามารถทำให้เสร็จได้แล้ว",
		Unknown: "ไม่พบหน้าชำระเงินนี้", Unavailable: "ขณะนี้หน้าชำระเงินใช้งานไม่ได้ โปรดลองใหม่ในอีกสักครู่",
		States: map[string]string{"open": "รอชำระ", "paid": "ชำระแล้ว", "failed": "ไม่สำเร็จ", "expired": "หมดอายุ", "canceled": "ยกเลิกแล้ว", "refunded": "คืนเงินแล้ว", "partially_refunded": "คืนเงินบางส่วน"}},
	"id": {Title: "Pembayaran sandbox", TestMode: "Mode uji: tidak ada uang sungguhan yang berpindah.", Pay: "Bayar %s", Decline: "Tolak", Status: "Status",
		Received: "Terima kasih, pembayaran diterima.", Declined: "Pembayaran ditolak.", NoLonger: "Pembayaran ini tidak dapat diselesaikan lagi.",
		Unknown: "Halaman pembayaran ini tidak ada.", Unavailable: "Halaman pembayaran sedang tidak tersedia; silakan coba lagi sebentar lagi.",
		States: map[string]string{"open": "belum dibayar", "paid": "dibayar", "failed": "gagal", "expired": "kedaluwarsa", "canceled": "dibatalkan", "refunded": "dikembalikan", "partially_refunded": "dikembalikan sebagian"}},
	"vi": {Title: "Thanh toán thử nghiệm", TestMode: "Chế độ thử: không có tiền thật được chuyển.", Pay: "Thanh toán %s", Decline: "Từ chối", Status: "Trạng thái",
		Received: "Cảm ơn bạn, đã nhận được thanh toán.", Declined: "Đã từ chối thanh toán.", NoLonger: "Khoản thanh toán này không thể hoàn tất được nữa.",
		Unknown: "Trang thanh toán này không tồn tại.", Unavailable: "Trang thanh toán tạm thời không khả dụng; vui lòng thử lại sau ít phút.",
		States: map[string]string{"open": "chờ thanh toán", "paid": "đã thanh toán", "failed": "thất bại", "expired": "hết hạn", "canceled": "đã hủy", "refunded": "đã hoàn tiền", "partially_refunded": "đã hoàn tiền một phần"}},
	"ar": {Dir: "rtl", Title: "صفحة دفع تجريبية", TestMode: "وضع الاختبار: لا تُنقل أموال حقيقية.", Pay: "ادفع %s", Decline: "رفض", Status: "الحالة",
		Received: "شكرًا لك، تم استلام الدفعة.", Declined: "تم رفض الدفع.", NoLonger: "لم يعد من الممكن إتمام هذه الدفعة.",
		Unknown: "صفحة الدفع هذه غير موجودة.", Unavailable: "صفحة الدفع غير متاحة الآن؛ يُرجى المحاولة بعد قليل.",
		States: map[string]string{"open": "بانتظار الدفع", "paid": "مدفوع", "failed": "فشل", "expired": "منتهي الصلاحية", "canceled": "ملغى", "refunded": "مسترد", "partially_refunded": "مسترد جزئيًا"}},
	"he": {Dir: "rtl", Title: "דף תשלום לבדיקה", TestMode: "מצב בדיקה: לא מועבר כסף אמיתי.", Pay: "לתשלום %s", Decline: "דחייה", Status: "סטטוס",
		Received: "תודה, התשלום התקבל.", Declined: "התשלום נדחה.", NoLonger: "כבר אי אפשר להשלים את התשלום הזה.",
		Unknown: "דף התשלום הזה לא קיים.", Unavailable: "דף התשלום אינו זמין כרגע; נא לנסות שוב בעוד רגע.",
		States: map[string]string{"open": "ממתין לתשלום", "paid": "שולם", "failed": "נכשל", "expired": "פג תוקף", "canceled": "בוטל", "refunded": "הוחזר", "partially_refunded": "הוחזר חלקית"}},
	"de": {Title: "Sandbox-Kasse", TestMode: "Testmodus: Es fließt kein echtes Geld.", Pay: "%s bezahlen", Decline: "Ablehnen", Status: "Status",
		Received: "Vielen Dank, die Zahlung ist eingegangen.", Declined: "Zahlung abgelehnt.", NoLonger: "Diese Zahlung kann nicht mehr abgeschlossen werden.",
		Unknown: "Diese Kasse gibt es nicht.", Unavailable: "Die Kasse ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
		States: map[string]string{"open": "offen", "paid": "bezahlt", "failed": "fehlgeschlagen", "expired": "abgelaufen", "canceled": "storniert", "refunded": "erstattet", "partially_refunded": "teilweise erstattet"}},
	"nl": {Title: "Sandbox-afrekenpagina", TestMode: "Testmodus: er gaat geen echt geld over.", Pay: "%s betalen", Decline: "Weigeren", Status: "Status",
		Received: "Bedankt, de betaling is ontvangen.", Declined: "Betaling geweigerd.", NoLonger: "Deze betaling kan niet meer worden voltooid.",
		Unknown: "Deze afrekenpagina bestaat niet.", Unavailable: "De afrekenpagina is nu niet beschikbaar; probeer het zo opnieuw.",
		States: map[string]string{"open": "open", "paid": "betaald", "failed": "mislukt", "expired": "verlopen", "canceled": "geannuleerd", "refunded": "terugbetaald", "partially_refunded": "deels terugbetaald"}},
	"fr": {Title: "Paiement de test", TestMode: "Mode test : aucun argent réel n’est débité.", Pay: "Payer %s", Decline: "Refuser", Status: "Statut",
		Received: "Merci : paiement reçu.", Declined: "Paiement refusé.", NoLonger: "Ce paiement ne peut plus être effectué.",
		Unknown: "Cette page de paiement n’existe pas.", Unavailable: "La page de paiement est indisponible pour le moment ; réessayez dans un instant.",
		States: map[string]string{"open": "en attente", "paid": "payé", "failed": "échoué", "expired": "expiré", "canceled": "annulé", "refunded": "remboursé", "partially_refunded": "partiellement remboursé"}},
	"es": {Title: "Pago de prueba", TestMode: "Modo de prueba: no se mueve dinero real.", Pay: "Pagar %s", Decline: "Rechazar", Status: "Estado",
		Received: "Gracias: pago recibido.", Declined: "Pago rechazado.", NoLonger: "Este pago ya no se puede completar.",
		Unknown: "Esta página de pago no existe.", Unavailable: "La página de pago no está disponible ahora; inténtalo de nuevo en un momento.",
		States: map[string]string{"open": "pendiente", "paid": "pagado", "failed": "fallido", "expired": "caducado", "canceled": "cancelado", "refunded": "reembolsado", "partially_refunded": "reembolsado en parte"}},
	"pt-BR": {Title: "Pagamento de teste", TestMode: "Modo de teste: nenhum dinheiro de verdade é movimentado.", Pay: "Pagar %s", Decline: "Recusar", Status: "Status",
		Received: "Obrigado: pagamento recebido.", Declined: "Pagamento recusado.", NoLonger: "Este pagamento não pode mais ser concluído.",
		Unknown: "Esta página de pagamento não existe.", Unavailable: "A página de pagamento está indisponível no momento; tente novamente daqui a pouco.",
		States: map[string]string{"open": "em aberto", "paid": "pago", "failed": "falhou", "expired": "expirado", "canceled": "cancelado", "refunded": "reembolsado", "partially_refunded": "reembolsado em parte"}},
}

// textFor picks the checkout's strings for r's Accept-Language.
func textFor(r *http.Request) checkoutText {
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, _ := checkoutMatcher.Match(tags...)
	name := checkoutTags[i].String()
	txt, ok := checkoutCatalog[name]
	if !ok {
		name, txt = "en", checkoutCatalog["en"]
	}
	txt.Lang = name
	if txt.Dir == "" {
		txt.Dir = "ltr"
	}
	return txt
}

package sandbox

import (
	"net/http"
	"strconv"
	"strings"

	"guidecall/payments"
)

// Payment methods the sandbox checkout offers, as a real one would for the
// link's currency: cards everywhere, iDEAL for euros (the Netherlands),
// GrabPay for Singapore and Malaysian dollars, konbini for yen, which
// completes later, at the store (asynchronously).
const (
	MethodCard    = "card"
	MethodIDEAL   = "ideal"
	MethodGrabPay = "grabpay"
	MethodKonbini = "konbini"
)

// MethodsFor lists the methods of a currency, card first.
func MethodsFor(currency string) []string {
	switch strings.ToUpper(currency) {
	case "EUR":
		return []string{MethodCard, MethodIDEAL}
	case "SGD", "MYR":
		return []string{MethodCard, MethodGrabPay}
	case "JPY":
		return []string{MethodCard, MethodKonbini}
	}
	return []string{MethodCard}
}

// asyncMethod reports whether a method is paid later: the checkout is
// processing until then.
func asyncMethod(m string) bool { return m == MethodKonbini }

// catalog holds the checkout's words per language (the locales the
// shopper page has too).
var catalog = map[string]map[string]string{
	"en": {"title": "Sandbox checkout", "test": "Test mode: no real money moves.", "method": "Payment method",
		"card": "Card", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (pay at a convenience store)",
		"pay": "Pay %s", "decline": "Decline", "status": "Status", "thanks": "Thank you: payment received.",
		"declined": "Payment declined.", "closed": "This payment can no longer be completed.",
		"konbini_wait": "Pay %s at any convenience store with number %s. This page updates when the store reports it.",
		"konbini_done": "Simulate payment at the store", "open": "open", "processing": "waiting for payment",
		"paid": "paid", "failed": "failed", "expired": "expired", "canceled": "canceled", "refunded": "refunded",
		"partially_refunded": "partially refunded",
		"back":               "Back to the shop", "unknown_link": "This payment link does not exist. Please ask your guide for a new one.", "expired_link": "This payment link has expired. Please ask your guide for a new one.", "paid_already": "This payment has already been made. There is nothing more to do.", "failed_link": "This payment failed. Please ask your guide for a new link.", "canceled_link": "This payment link was canceled. Please ask your guide for a new one if you still want to pay.", "unavailable": "The checkout is not available right now. Please try again in a moment."},
	"de": {"title": "Sandbox-Kasse", "test": "Testmodus: Es wird kein echtes Geld bewegt.", "method": "Zahlungsart",
		"card": "Karte", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (im Convenience Store zahlen)",
		"pay": "%s bezahlen", "decline": "Ablehnen", "status": "Status", "thanks": "Danke: Zahlung erhalten.",
		"declined": "Zahlung abgelehnt.", "closed": "Diese Zahlung kann nicht mehr abgeschlossen werden.",
		"konbini_wait": "Zahlen Sie %s in einem Convenience Store mit der Nummer %s. Diese Seite aktualisiert sich, sobald der Laden es meldet.",
		"konbini_done": "Zahlung im Laden simulieren", "open": "offen", "processing": "wartet auf Zahlung",
		"paid": "bezahlt", "failed": "fehlgeschlagen", "expired": "abgelaufen", "canceled": "storniert", "refunded": "erstattet",
		"partially_refunded": "teilweise erstattet",
		"back":               "Zurück zum Shop", "unknown_link": "Diesen Zahlungslink gibt es nicht. Bitten Sie Ihre Beraterin / Ihren Berater um einen neuen.", "expired_link": "Dieser Zahlungslink ist abgelaufen. Bitten Sie Ihre Beraterin / Ihren Berater um einen neuen.", "paid_already": "Diese Zahlung ist bereits erfolgt. Sie müssen nichts weiter tun.", "failed_link": "Diese Zahlung ist fehlgeschlagen. Bitten Sie Ihre Beraterin / Ihren Berater um einen neuen Link.", "canceled_link": "Dieser Zahlungslink wurde storniert. Wenn Sie noch bezahlen möchten, bitten Sie Ihre Beraterin / Ihren Berater um einen neuen.", "unavailable": "Die Kasse ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."},
	"fr": {"title": "Paiement sandbox", "test": "Mode test : aucun argent réel n’est débité.", "method": "Moyen de paiement",
		"card": "Carte", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (payer en supérette)",
		"pay": "Payer %s", "decline": "Refuser", "status": "Statut", "thanks": "Merci : paiement reçu.",
		"declined": "Paiement refusé.", "closed": "Ce paiement ne peut plus être effectué.",
		"konbini_wait": "Payez %s dans une supérette avec le numéro %s. Cette page se met à jour dès que le magasin le signale.",
		"konbini_done": "Simuler le paiement en magasin", "open": "ouvert", "processing": "en attente de paiement",
		"paid": "payé", "failed": "échoué", "expired": "expiré", "canceled": "annulé", "refunded": "remboursé",
		"partially_refunded": "partiellement remboursé",
		"back":               "Retour à la boutique", "unknown_link": "Ce lien de paiement n’existe pas. Demandez-en un nouveau à votre conseiller.", "expired_link": "Ce lien de paiement a expiré. Demandez-en un nouveau à votre conseiller.", "paid_already": "Ce paiement a déjà été effectué. Vous n’avez plus rien à faire.", "failed_link": "Ce paiement a échoué. Demandez un nouveau lien à votre conseiller.", "canceled_link": "Ce lien de paiement a été annulé. Si vous souhaitez toujours payer, demandez-en un nouveau à votre conseiller.", "unavailable": "Le paiement est indisponible pour le moment. Réessayez dans un instant."},
	"es": {"title": "Pago de prueba", "test": "Modo de prueba: no se mueve dinero real.", "method": "Método de pago",
		"card": "Tarjeta", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (pagar en una tienda)",
		"pay": "Pagar %s", "decline": "Rechazar", "status": "Estado", "thanks": "Gracias: pago recibido.",
		"declined": "Pago rechazado.", "closed": "Este pago ya no se puede completar.",
		"konbini_wait": "Paga %s en cualquier tienda de conveniencia con el número %s. Esta página se actualiza cuando la tienda lo comunique.",
		"konbini_done": "Simular el pago en la tienda", "open": "abierto", "processing": "esperando el pago",
		"paid": "pagado", "failed": "fallido", "expired": "caducado", "canceled": "cancelado", "refunded": "reembolsado",
		"partially_refunded": "reembolsado en parte",
		"back":               "Volver a la tienda", "unknown_link": "Este enlace de pago no existe. Pide uno nuevo a tu asesor.", "expired_link": "Este enlace de pago ha caducado. Pide uno nuevo a tu asesor.", "paid_already": "Este pago ya se ha realizado. No tienes que hacer nada más.", "failed_link": "Este pago ha fallado. Pide un enlace nuevo a tu asesor.", "canceled_link": "Este enlace de pago se ha cancelado. Si todavía quieres pagar, pide uno nuevo a tu asesor.", "unavailable": "El pago no está disponible en este momento. Inténtalo de nuevo en un instante."},
	"ja": {"title": "サンドボックス決済", "test": "テストモード：実際のお金は動きません。", "method": "お支払い方法",
		"card": "カード", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "コンビニ払い",
		"pay": "%s を支払う", "decline": "辞退する", "status": "ステータス", "thanks": "ありがとうございます。お支払いを受け付けました。",
		"declined": "お支払いは辞退されました。", "closed": "このお支払いはもう完了できません。",
		"konbini_wait": "お近くのコンビニで番号 %[2]s を使って %[1]s をお支払いください。お店から通知があるとこのページが更新されます。",
		"konbini_done": "店頭での支払いをシミュレート", "open": "未払い", "processing": "お支払い待ち",
		"paid": "支払い済み", "failed": "失敗", "expired": "期限切れ", "canceled": "キャンセル", "refunded": "返金済み",
		"partially_refunded": "一部返金",
		"back":               "ショップに戻る", "unknown_link": "この支払いリンクは存在しません。スタッフに新しいリンクをお尋ねください。", "expired_link": "この支払いリンクは有効期限が切れています。スタッフに新しいリンクをお尋ねください。", "paid_already": "このお支払いはすでに完了しています。これ以上の操作は必要ありません。", "failed_link": "このお支払いは失敗しました。スタッフに新しいリンクをお尋ねください。", "canceled_link": "この支払いリンクはキャンセルされました。お支払いを希望される場合は、スタッフに新しいリンクをお尋ねください。", "unavailable": "現在、決済ページをご利用いただけません。しばらくしてからもう一度お試しください。"},
	// The other locales of the widget (issue 13).
	"zh": {"title": "沙盒收银台", "test": "测试模式：不会产生真实扣款。", "method": "支付方式", "card": "银行卡", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "便利店付款（Konbini）", "pay": "支付 %s", "decline": "拒绝", "status": "状态", "thanks": "谢谢，已收到付款。", "declined": "付款已拒绝。", "closed": "这笔付款已无法完成。", "konbini_wait": "请凭编号 %[2]s 在任意便利店支付 %[1]s。门店确认后本页会自动更新。", "konbini_done": "模拟在门店付款", "open": "待支付", "processing": "等待付款", "paid": "已支付", "failed": "失败", "expired": "已过期", "canceled": "已取消", "refunded": "已退款", "partially_refunded": "部分退款",
		"back": "返回商店", "unknown_link": "此付款链接不存在。请向顾问索取新的链接。", "expired_link": "此付款链接已过期。请向顾问索取新的链接。", "paid_already": "这笔款项已经支付，无需再做任何操作。", "failed_link": "这笔付款失败了。请向顾问索取新的链接。", "canceled_link": "此付款链接已取消。如仍需付款，请向顾问索取新的链接。", "unavailable": "收银台暂时无法使用，请稍后再试。"},
	"pt": {"title": "Pagamento de teste", "test": "Modo de teste: nenhum dinheiro de verdade é movimentado.", "method": "Forma de pagamento", "card": "Cartão", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (pagar em loja de conveniência)", "pay": "Pagar %s", "decline": "Recusar", "status": "Status", "thanks": "Obrigado: pagamento recebido.", "declined": "Pagamento recusado.", "closed": "Este pagamento não pode mais ser concluído.", "konbini_wait": "Pague %[1]s em qualquer loja de conveniência com o número %[2]s. Esta página se atualiza quando a loja confirmar.", "konbini_done": "Simular pagamento na loja", "open": "em aberto", "processing": "aguardando pagamento", "paid": "pago", "failed": "falhou", "expired": "expirado", "canceled": "cancelado", "refunded": "reembolsado", "partially_refunded": "reembolsado em parte",
		"back": "Voltar para a loja", "unknown_link": "Este link de pagamento não existe. Peça um novo ao seu consultor.", "expired_link": "Este link de pagamento expirou. Peça um novo ao seu consultor.", "paid_already": "Este pagamento já foi feito. Não é preciso fazer mais nada.", "failed_link": "Este pagamento falhou. Peça um novo link ao seu consultor.", "canceled_link": "Este link de pagamento foi cancelado. Se ainda quiser pagar, peça um novo ao seu consultor.", "unavailable": "O pagamento não está disponível no momento. Tente de novo em instantes."},
	"ko": {"title": "샌드박스 결제", "test": "테스트 모드: 실제 돈은 오가지 않습니다.", "method": "결제 수단", "card": "카드", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "편의점 결제 (Konbini)", "pay": "%s 결제", "decline": "거절", "status": "상태", "thanks": "감사합니다. 결제가 완료되었습니다.", "declined": "결제를 거절했습니다.", "closed": "이 결제는 더 이상 완료할 수 없습니다.", "konbini_wait": "편의점에서 번호 %[2]s(으)로 %[1]s을(를) 결제하세요. 매장에서 확인되면 이 페이지가 바뀝니다.", "konbini_done": "매장 결제 시뮬레이션", "open": "결제 대기", "processing": "결제 대기 중", "paid": "결제 완료", "failed": "실패", "expired": "만료", "canceled": "취소됨", "refunded": "환불됨", "partially_refunded": "부분 환불됨",
		"back": "쇼핑몰로 돌아가기", "unknown_link": "존재하지 않는 결제 링크입니다. 상담원에게 새 링크를 요청하세요.", "expired_link": "결제 링크가 만료되었습니다. 상담원에게 새 링크를 요청하세요.", "paid_already": "이미 결제가 완료되었습니다. 더 하실 일은 없습니다.", "failed_link": "결제에 실패했습니다. 상담원에게 새 링크를 요청하세요.", "canceled_link": "결제 링크가 취소되었습니다. 결제를 원하시면 상담원에게 새 링크를 요청하세요.", "unavailable": "지금은 결제 페이지를 사용할 수 없습니다. 잠시 후 다시 시도하세요."},
	"th": {"title": "หน้าชำระเงินทดสอบ", "test": "โหมดทดสอบ: ไม่มีการตัดเงินจริง", "method": "วิธีชำระเงิน", "card": "บัตร", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (ชำระที่ร้านสะดวกซื้อ)", "pay": "ชำระ %s", "decline": "ปฏิเสธ", "status": "สถานะ", "thanks": "ขอบคุณ ได้รับชำระเงินแล้ว", "declined": "ปฏิเสธการชำระเงินแล้ว", "closed": "การชำระเงินนี้ไม่สามารถทำให้เสร็จได้แล้ว", "konbini_wait": "ชำระ %[1]s ที่ร้านสะดวกซื้อใดก็ได้ด้วยหมายเลข %[2]s หน้านี้จะอัปเดตเมื่อร้านแจ้งยืนยัน", "konbini_done": "จำลองการชำระที่ร้าน", "open": "รอชำระ", "processing": "รอการชำระเงิน", "paid": "ชำระแล้ว", "failed": "ไม่สำเร็จ", "expired": "หมดอายุ", "canceled": "ยกเลิกแล้ว", "refunded": "คืนเงินแล้ว", "partially_refunded": "คืนเงินบางส่วน",
		"back": "กลับไปที่ร้านค้า", "unknown_link": "ไม่พบลิงก์ชำระเงินนี้ โปรดขอลิงก์ใหม่จากผู้ช่วยขาย", "expired_link": "ลิงก์ชำระเงินนี้หมดอายุแล้ว โปรดขอลิงก์ใหม่จากผู้ช่วยขาย", "paid_already": "รายการนี้ชำระเงินเรียบร้อยแล้ว ไม่ต้องทำอะไรเพิ่ม", "failed_link": "การชำระเงินนี้ไม่สำเร็จ โปรดขอลิงก์ใหม่จากผู้ช่วยขาย", "canceled_link": "ลิงก์ชำระเงินนี้ถูกยกเลิกแล้ว หากยังต้องการชำระ โปรดขอลิงก์ใหม่จากผู้ช่วยขาย", "unavailable": "หน้าชำระเงินไม่พร้อมใช้งานในขณะนี้ โปรดลองอีกครั้งในอีกสักครู่"},
	"id": {"title": "Pembayaran sandbox", "test": "Mode uji: tidak ada uang sungguhan yang berpindah.", "method": "Metode pembayaran", "card": "Kartu", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (bayar di minimarket)", "pay": "Bayar %s", "decline": "Tolak", "status": "Status", "thanks": "Terima kasih, pembayaran diterima.", "declined": "Pembayaran ditolak.", "closed": "Pembayaran ini tidak dapat diselesaikan lagi.", "konbini_wait": "Bayar %[1]s di minimarket mana pun dengan nomor %[2]s. Halaman ini diperbarui setelah toko melaporkannya.", "konbini_done": "Simulasikan pembayaran di toko", "open": "belum dibayar", "processing": "menunggu pembayaran", "paid": "dibayar", "failed": "gagal", "expired": "kedaluwarsa", "canceled": "dibatalkan", "refunded": "dikembalikan", "partially_refunded": "dikembalikan sebagian",
		"back": "Kembali ke toko", "unknown_link": "Tautan pembayaran ini tidak ada. Silakan minta tautan baru kepada pramuniaga.", "expired_link": "Tautan pembayaran ini sudah kedaluwarsa. Silakan minta tautan baru kepada pramuniaga.", "paid_already": "Pembayaran ini sudah dilakukan. Tidak ada lagi yang perlu dilakukan.", "failed_link": "Pembayaran ini gagal. Silakan minta tautan baru kepada pramuniaga.", "canceled_link": "Tautan pembayaran ini dibatalkan. Jika masih ingin membayar, silakan minta tautan baru kepada pramuniaga.", "unavailable": "Halaman pembayaran sedang tidak tersedia. Silakan coba lagi sebentar lagi."},
	"vi": {"title": "Thanh toán thử nghiệm", "test": "Chế độ thử: không có tiền thật được chuyển.", "method": "Phương thức thanh toán", "card": "Thẻ", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (trả tại cửa hàng tiện lợi)", "pay": "Thanh toán %s", "decline": "Từ chối", "status": "Trạng thái", "thanks": "Cảm ơn bạn, đã nhận được thanh toán.", "declined": "Đã từ chối thanh toán.", "closed": "Khoản thanh toán này không thể hoàn tất được nữa.", "konbini_wait": "Thanh toán %[1]s tại bất kỳ cửa hàng tiện lợi nào với mã số %[2]s. Trang này sẽ cập nhật khi cửa hàng xác nhận.", "konbini_done": "Giả lập thanh toán tại cửa hàng", "open": "chờ thanh toán", "processing": "đang chờ thanh toán", "paid": "đã thanh toán", "failed": "thất bại", "expired": "hết hạn", "canceled": "đã hủy", "refunded": "đã hoàn tiền", "partially_refunded": "đã hoàn tiền một phần",
		"back": "Quay lại cửa hàng", "unknown_link": "Liên kết thanh toán này không tồn tại. Vui lòng xin tư vấn viên một liên kết mới.", "expired_link": "Liên kết thanh toán này đã hết hạn. Vui lòng xin tư vấn viên một liên kết mới.", "paid_already": "Khoản này đã được thanh toán. Bạn không cần làm gì thêm.", "failed_link": "Thanh toán này không thành công. Vui lòng xin tư vấn viên một liên kết mới.", "canceled_link": "Liên kết thanh toán này đã bị hủy. Nếu vẫn muốn thanh toán, vui lòng xin tư vấn viên một liên kết mới.", "unavailable": "Trang thanh toán hiện không khả dụng. Vui lòng thử lại sau giây lát."},
	"ar": {"title": "صفحة دفع تجريبية", "test": "وضع الاختبار: لا تُنقل أموال حقيقية.", "method": "طريقة الدفع", "card": "بطاقة", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "كونبيني (الدفع في متجر صغير)", "pay": "ادفع %s", "decline": "رفض", "status": "الحالة", "thanks": "شكرًا لك، تم استلام الدفعة.", "declined": "تم رفض الدفع.", "closed": "لم يعد من الممكن إتمام هذه الدفعة.", "konbini_wait": "ادفع %[1]s في أي متجر صغير بالرقم %[2]s. تتحدّث هذه الصفحة عندما يؤكد المتجر الدفع.", "konbini_done": "محاكاة الدفع في المتجر", "open": "بانتظار الدفع", "processing": "بانتظار الدفع", "paid": "مدفوع", "failed": "فشل", "expired": "منتهي الصلاحية", "canceled": "ملغى", "refunded": "مسترد", "partially_refunded": "مسترد جزئيًا",
		"back": "العودة إلى المتجر", "unknown_link": "رابط الدفع هذا غير موجود. يُرجى طلب رابط جديد من المستشار.", "expired_link": "انتهت صلاحية رابط الدفع هذا. يُرجى طلب رابط جديد من المستشار.", "paid_already": "تم دفع هذا المبلغ بالفعل. لا حاجة إلى أي إجراء آخر.", "failed_link": "فشلت عملية الدفع هذه. يُرجى طلب رابط جديد من المستشار.", "canceled_link": "تم إلغاء رابط الدفع هذا. إذا كنت لا تزال ترغب في الدفع، فاطلب رابطًا جديدًا من المستشار.", "unavailable": "صفحة الدفع غير متاحة حاليًا. يُرجى المحاولة مرة أخرى بعد لحظات."},
	"he": {"title": "דף תשלום לבדיקה", "test": "מצב בדיקה: לא מועבר כסף אמיתי.", "method": "אמצעי תשלום", "card": "כרטיס", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "קונביני (תשלום בחנות נוחות)", "pay": "לתשלום %s", "decline": "דחייה", "status": "סטטוס", "thanks": "תודה, התשלום התקבל.", "declined": "התשלום נדחה.", "closed": "כבר אי אפשר להשלים את התשלום הזה.", "konbini_wait": "יש לשלם %[1]s בכל חנות נוחות עם המספר %[2]s. הדף יתעדכן כשהחנות תדווח על כך.", "konbini_done": "הדמיית תשלום בחנות", "open": "ממתין לתשלום", "processing": "ממתין לתשלום", "paid": "שולם", "failed": "נכשל", "expired": "פג תוקף", "canceled": "בוטל", "refunded": "הוחזר", "partially_refunded": "הוחזר חלקית",
		"back": "חזרה לחנות", "unknown_link": "קישור התשלום הזה לא קיים. אפשר לבקש קישור חדש מהנציג.", "expired_link": "פג תוקפו של קישור התשלום הזה. אפשר לבקש קישור חדש מהנציג.", "paid_already": "התשלום הזה כבר בוצע. אין צורך לעשות דבר נוסף.", "failed_link": "התשלום הזה נכשל. אפשר לבקש קישור חדש מהנציג.", "canceled_link": "קישור התשלום הזה בוטל. אם עדיין רוצים לשלם, אפשר לבקש קישור חדש מהנציג.", "unavailable": "דף התשלום אינו זמין כרגע. כדאי לנסות שוב בעוד רגע."},
	"nl": {"title": "Sandbox-afrekenpagina", "test": "Testmodus: er gaat geen echt geld over.", "method": "Betaalmethode", "card": "Kaart", "ideal": "iDEAL", "grabpay": "GrabPay", "konbini": "Konbini (betalen bij een buurtwinkel)", "pay": "%s betalen", "decline": "Weigeren", "status": "Status", "thanks": "Bedankt, de betaling is ontvangen.", "declined": "Betaling geweigerd.", "closed": "Deze betaling kan niet meer worden voltooid.", "konbini_wait": "Betaal %[1]s bij een buurtwinkel met nummer %[2]s. Deze pagina werkt zich bij zodra de winkel het meldt.", "konbini_done": "Betaling in de winkel nabootsen", "open": "open", "processing": "wacht op betaling", "paid": "betaald", "failed": "mislukt", "expired": "verlopen", "canceled": "geannuleerd", "refunded": "terugbetaald", "partially_refunded": "deels terugbetaald",
		"back": "Terug naar de winkel", "unknown_link": "Deze betaallink bestaat niet. Vraag je adviseur om een nieuwe.", "expired_link": "Deze betaallink is verlopen. Vraag je adviseur om een nieuwe.", "paid_already": "Deze betaling is al gedaan. Je hoeft niets meer te doen.", "failed_link": "Deze betaling is mislukt. Vraag je adviseur om een nieuwe link.", "canceled_link": "Deze betaallink is geannuleerd. Wil je toch betalen? Vraag je adviseur dan om een nieuwe.", "unavailable": "De afrekenpagina is nu niet beschikbaar. Probeer het zo meteen opnieuw."},
}

// pageLang is the checkout's language: ?lang=, else the first of the
// browser's Accept-Language the catalog has, else English.
func pageLang(r *http.Request) string {
	if l := baseLang(r.URL.Query().Get("lang")); catalog[l] != nil {
		return l
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := baseLang(tag); catalog[l] != nil {
			return l
		}
	}
	return "en"
}

func baseLang(tag string) string {
	l, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	return l
}

// separators are the decimal and grouping marks of each language.
var separators = map[string][2]string{
	"en": {".", ","}, "ja": {".", ","}, "de": {",", "."}, "es": {",", "."}, "fr": {",", "\u202f"},
	"zh": {".", ","}, "ko": {".", ","}, "th": {".", ","}, "he": {".", ","}, "ar": {".", ","},
	"id": {",", "."}, "vi": {",", "."}, "nl": {",", "."}, "pt": {",", "."},
}

// rtl are the languages written right to left: the page gets dir="rtl".
var rtl = map[string]bool{"ar": true, "he": true}

// formatMoney formats minor units for lang with integer arithmetic only:
// "1,234.56 EUR" in English, "1.234,56 EUR" in German, "4,200 JPY" in
// Japanese.
func formatMoney(m payments.Money, lang string) string {
	exp, err := payments.MinorUnits(m.Currency)
	if err != nil {
		return m.String()
	}
	sep, ok := separators[lang]
	if !ok {
		sep = separators["en"]
	}
	neg := m.Amount < 0
	a := m.Amount
	if neg {
		a = -a
	}
	digits := strconv.FormatInt(a, 10)
	for len(digits) <= exp {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(sep[1])
		}
		b.WriteRune(c)
	}
	if exp > 0 {
		b.WriteString(sep[0])
		b.WriteString(frac)
	}
	b.WriteString(" " + strings.ToUpper(m.Currency))
	return b.String()
}
